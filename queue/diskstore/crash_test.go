package diskstore

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/carriermq/carrier/queue"
)

// The crash test runs a child process (this test binary, TestCrashChild)
// that applies a deterministic stream of appends and drops to a store and
// reports each op on stdout; the parent kills it with SIGKILL at some op,
// reopens the store and compares it with a model of the stream up to the
// store's applied index: the same messages, bounds and bytes — no gap, no
// duplicate, no half record — and then goes on appending to it.

const crashDirEnv = "DISKSTORE_CRASH_DIR"

// crashOpts: small segments, so that rolls and whole-segment deletes are
// frequent and the kill can land in one.
var crashOpts = Options{SegmentBytes: 8 << 10, CacheBytes: 2 << 10}

// model is the reference: the stored seqs and their sizes.
type model struct {
	first, last uint64 // last 0: empty
	next        uint64 // seq of the next append
	rng         *rand.Rand
}

func newModel(seed uint64) *model { return &model{next: 1, rng: rand.New(rand.NewPCG(seed, 1))} }

func crashMsg(seq uint64) *queue.Message {
	data := strings.Repeat("x", int(seq*7919%300))
	return &queue.Message{Seq: seq, ID: "c" + strconv.FormatUint(seq, 10), Data: []byte(`"` + data + `"`), Time: int64(seq)}
}

// op is one step of the stream: an append (drop == false) or a drop.
type op struct {
	drop bool
	seq  uint64
}

// step draws the next op from the model's state and applies it to the model.
func (m *model) step() op {
	n := m.rng.IntN(1000)
	switch {
	case m.last != 0 && n < 30:
		to := m.first + uint64(m.rng.IntN(int(m.last-m.first)/2+1))
		m.dropThrough(to)
		return op{drop: true, seq: to}
	case m.last != 0 && n < 33:
		to := m.last
		m.dropThrough(to)
		m.next += uint64(m.rng.IntN(3)) // a purge can be followed by a jump
		return op{drop: true, seq: to}
	case n < 40:
		return op{drop: true, seq: m.first / 2} // drops nothing
	}
	seq := m.next
	if m.last == 0 {
		m.first = seq
	}
	m.last, m.next = seq, seq+1
	return op{seq: seq}
}

func (m *model) dropThrough(to uint64) {
	if to >= m.last {
		m.first, m.last = 0, 0
		return
	}
	m.first = to + 1
}

func (o op) apply(s *Store, index uint64) error {
	if o.drop {
		_, err := s.DropThrough(index, o.seq)
		return err
	}
	return s.Append(index, crashMsg(o.seq))
}

// TestCrashChild is the child's body; it only runs under the crash test.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("the child of TestCrashConsistency; runs only under it")
	}
	seed, _ := strconv.ParseUint(os.Getenv(crashDirEnv+"_SEED"), 10, 64)
	s, err := Open(dir, crashOpts)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	m := replay(newModel(seed), s.Applied())
	out := bufio.NewWriter(os.Stdout)
	for index := s.Applied() + 1; ; index++ {
		if err := m.step().apply(s, index); err != nil {
			fmt.Fprintln(out, "error", err)
			out.Flush()
			os.Exit(1)
		}
		fmt.Fprintln(out, "op", index)
		out.Flush()
	}
}

// replay advances m through n ops.
func replay(m *model, n uint64) *model {
	for range n {
		m.step()
	}
	return m
}

func TestCrashConsistency(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	dir := t.TempDir()
	const seed = 42
	killAt := []uint64{700, 2100, 2600, 5000, 9000, 15000}
	for round, at := range killAt {
		runChildUntil(t, dir, seed, at)
		s := openT(t, dir, crashOpts)
		m := replay(newModel(seed), s.Applied())
		compare(t, s, m)
		t.Logf("round %d: killed after op %d or later; store reopened at applied %d, seqs %d..%d in %d files",
			round, at, s.Applied(), s.FirstSeq(), s.LastSeq(), len(segFiles(t, dir)))
		closeT(t, s)
	}
}

// runChildUntil starts the child on dir and kills it (SIGKILL) once it
// reported op at.
func runChildUntil(t *testing.T, dir string, seed, at uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run", "^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashDirEnv+"_SEED="+strconv.FormatUint(seed, 10))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Wait() }() // killed: the error says so
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "error") {
			_ = cmd.Process.Kill()
			t.Fatalf("child: %s", line)
		}
		if n, ok := strings.CutPrefix(line, "op "); ok {
			if i, _ := strconv.ParseUint(n, 10, 64); i >= at {
				if err := cmd.Process.Kill(); err != nil {
					t.Fatal(err)
				}
				return
			}
		}
	}
	t.Fatalf("child ended before op %d: %v", at, sc.Err())
}

// compare checks that s holds exactly what the model holds.
func compare(t *testing.T, s *Store, m *model) {
	t.Helper()
	if s.FirstSeq() != m.first || s.LastSeq() != m.last {
		t.Fatalf("store holds %d..%d, model %d..%d (applied %d)", s.FirstSeq(), s.LastSeq(), m.first, m.last, s.Applied())
	}
	if m.last == 0 {
		if s.Len() != 0 || s.Bytes() != 0 {
			t.Fatalf("empty store: len %d, bytes %d", s.Len(), s.Bytes())
		}
		return
	}
	msgs, err := s.Read(m.first, int(m.last-m.first)+1)
	if err != nil || uint64(len(msgs)) != m.last-m.first+1 {
		t.Fatalf("read %d messages: %v", len(msgs), err)
	}
	var bytes int64
	for i, got := range msgs {
		want := crashMsg(m.first + uint64(i))
		if got.Seq != want.Seq || got.ID != want.ID || string(got.Data) != string(want.Data) {
			t.Fatalf("message %d: %+v, want %+v", want.Seq, got, want)
		}
		bytes += got.Size()
	}
	if bytes != s.Bytes() {
		t.Fatalf("store bytes %d, messages sum to %d", s.Bytes(), bytes)
	}
}
