package queue

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the expected output of testdata scripts")

// TestScripts runs every testdata/script/*.txt file. A script is a list of
// blocks:
//
//	directive args...
//	input lines...
//	----
//	expected output
//	(blank line)
//
// Lines starting with # between blocks are comments. After every "apply"
// block the runner checks the state's internal invariants and that a
// snapshot restores to a state that snapshots to the same bytes. With
// -update, the expected outputs are rewritten from what the code produces.
func TestScripts(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "script", "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			runScript(t, file)
		})
	}
}

// scriptChunk is verbatim text, or (want != nil) a block to run whose
// expected output is *want.
type scriptChunk struct {
	text  string
	line  int
	block []string // directive line and input lines
	want  *string
	got   string
}

func parseScript(t *testing.T, data string) []*scriptChunk {
	lines := strings.Split(data, "\n")
	var chunks []*scriptChunk
	for i := 0; i < len(lines); {
		line := lines[i]
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			chunks = append(chunks, &scriptChunk{text: line})
			i++
			continue
		}
		c := &scriptChunk{line: i + 1}
		for ; i < len(lines) && lines[i] != "----"; i++ {
			c.block = append(c.block, lines[i])
		}
		if i == len(lines) {
			t.Fatalf("line %d: block without ----", c.line)
		}
		i++
		var want []string
		for ; i < len(lines) && lines[i] != ""; i++ {
			want = append(want, lines[i])
		}
		if i < len(lines) {
			i++ // the blank line ending the block
		}
		w := strings.Join(want, "\n")
		c.want = &w
		chunks = append(chunks, c)
	}
	return chunks
}

func runScript(t *testing.T, file string) {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	chunks := parseScript(t, strings.TrimRight(string(data), "\n"))
	r := &scriptRunner{t: t, s: New(nil)}
	for _, c := range chunks {
		if c.want == nil {
			continue
		}
		r.pos = fmt.Sprintf("%s:%d", file, c.line)
		c.got = r.run(c.block)
		if !*update && c.got != *c.want {
			t.Errorf("%s: %s\ngot:\n%s\nwant:\n%s", r.pos, c.block[0], c.got, *c.want)
		}
	}
	if *update {
		writeScript(t, file, chunks)
	}
}

func writeScript(t *testing.T, file string, chunks []*scriptChunk) {
	var b bytes.Buffer
	for _, c := range chunks {
		if c.want == nil {
			b.WriteString(c.text + "\n")
			continue
		}
		b.WriteString(strings.Join(c.block, "\n") + "\n----\n")
		if c.got != "" {
			b.WriteString(c.got + "\n")
		}
		b.WriteString("\n")
	}
	out := strings.TrimRight(b.String(), "\n") + "\n"
	if err := os.WriteFile(file, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
}
