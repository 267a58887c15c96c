package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// docExample is one shell block of docs/http-api.md and the answer shown
// right after it ("" when none).
type docExample struct {
	line   int
	script string
	answer string
	lang   string // of the answer block: json, or "" for plain text
}

// Every example of docs/http-api.md runs, top to bottom, as pasted against a
// real server (the documented address replaced by the test server's): no
// answer is an error the docs do not show, and a JSON answer has exactly the
// top-level fields the docs show.
func TestHTTPDocExamplesRun(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed: the examples of docs/http-api.md were not run")
	}
	examples := readDocExamples(t, "../docs/http-api.md")
	if len(examples) < 20 {
		t.Fatalf("found only %d examples in docs/http-api.md", len(examples))
	}
	s := startServer(t, DefaultConfig())
	for _, ex := range examples {
		script := strings.ReplaceAll(ex.script, "http://127.0.0.1:7420", s.ts.URL)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		cmd := exec.CommandContext(ctx, "sh", "-e", "-c", script)
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("docs/http-api.md:%d: %v\n%s\n%s", ex.line, err, ex.script, out)
		}
		t.Logf("docs/http-api.md:%d: %s", ex.line, out)
		if msg := checkDocAnswer(ex, string(out)); msg != "" {
			t.Errorf("docs/http-api.md:%d: %s\n%s\ngot: %s\ndocumented: %s", ex.line, msg, ex.script, out, ex.answer)
		}
	}
}

// readDocExamples returns the ```sh blocks of a Markdown file in order, each
// with the fenced block that directly follows it.
func readDocExamples(t *testing.T, path string) []docExample {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []docExample
	var cur *docExample
	var body []string
	inSh, inAnswer, expectAnswer := false, false, false
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case inSh && line == "```":
			cur.script, inSh, expectAnswer = strings.Join(body, "\n"), false, true
		case inAnswer && line == "```":
			cur.answer, inAnswer = strings.Join(body, "\n"), false
		case inSh || inAnswer:
			body = append(body, line)
		case line == "```sh":
			out = append(out, docExample{line: n})
			cur, body, inSh = &out[len(out)-1], nil, true
		case expectAnswer && strings.HasPrefix(line, "```"):
			cur.lang, body, inAnswer, expectAnswer = strings.TrimPrefix(line, "```"), nil, true, false
		default:
			expectAnswer = false
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkDocAnswer compares an example's output with its documented answer;
// "" when they agree.
func checkDocAnswer(ex docExample, got string) string {
	wantErr := strings.Contains(ex.answer, `"error":{`)
	if strings.Contains(got, `"error":{`) && !wantErr {
		return "the answer is an error the docs do not show"
	}
	if ex.lang != "json" || ex.answer == "" {
		return ""
	}
	want, ok := topLevelKeys(strings.ReplaceAll(ex.answer, "{…}", "{}"))
	if !ok {
		return "the documented answer is not JSON"
	}
	have, ok := topLevelKeys(got)
	if !ok {
		return "the answer is not JSON"
	}
	if !slices.Equal(want, have) {
		return "top-level fields " + strings.Join(have, ",") + ", documented " + strings.Join(want, ",")
	}
	if wantErr {
		var w, g struct{ Error struct{ Code string } }
		_ = json.Unmarshal([]byte(ex.answer), &w)
		_ = json.Unmarshal([]byte(got), &g)
		if w.Error.Code != g.Error.Code {
			return "error code " + g.Error.Code + ", documented " + w.Error.Code
		}
	}
	return ""
}

// topLevelKeys returns the sorted keys of a JSON object.
func topLevelKeys(s string) ([]string, bool) {
	var m map[string]json.RawMessage
	if json.Unmarshal([]byte(s), &m) != nil {
		return nil, false
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys, true
}
