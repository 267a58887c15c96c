package cluster

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/carriermq/carrier/test/testlog"
)

func TestHCLogAdapter(t *testing.T) {
	var buf testlog.Buffer
	base := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	l := newHCLogger(base, slog.LevelWarn, "raft").Named("wal").With("segment", 3)

	l.Info("chatty", "k", 1)
	l.Debug("chattier")
	l.Warn("disk slow", "ms", 12)
	l.Error("disk failed")
	l.Log(hclog.Trace, "noise")

	out := buf.String()
	for _, want := range []string{
		`level=WARN msg="disk slow" component=raft.wal segment=3 ms=12`,
		`level=ERROR msg="disk failed" component=raft.wal segment=3`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "chatty") || strings.Contains(out, "noise") {
		t.Errorf("records below Warn were written:\n%s", out)
	}
	if l.IsInfo() || !l.IsWarn() || l.GetLevel() != hclog.Warn || l.Name() != "raft.wal" {
		t.Errorf("levels: info %v warn %v level %v name %q", l.IsInfo(), l.IsWarn(), l.GetLevel(), l.Name())
	}
}

func TestHCLogAdapterStandardLogger(t *testing.T) {
	var buf testlog.Buffer
	l := newHCLogger(slog.New(slog.NewTextHandler(&buf, nil)), slog.LevelInfo, "")
	l.StandardLogger(nil).Print("from the standard library")
	if !strings.Contains(buf.String(), `msg="from the standard library"`) {
		t.Errorf("output = %q", buf.String())
	}
}

// TestExpectedRaftErrorsDemoted: raft's records of normal events during a
// clean stop or a hand-over are not errors; other errors stay errors.
func TestExpectedRaftErrorsDemoted(t *testing.T) {
	closed := &net.OpError{Op: "read", Net: "tcp", Err: net.ErrClosed}
	for _, tt := range []struct {
		msg  string
		args []any
		want slog.Level
	}{
		{"peer has newer term, stopping replication", []any{"peer", "n2"}, slog.LevelInfo},
		{"failed to decode incoming command", []any{"error", closed}, slog.LevelDebug},
		{"failed to decode incoming command", []any{"error", errors.New("read tcp 1->2: use of closed network connection")}, slog.LevelDebug},
		{"failed to decode incoming command", []any{"error", errors.New("read tcp 1->2: connection reset by peer")}, slog.LevelError},
		{"failed to append to logs", []any{"error", errors.New("no space left on device")}, slog.LevelError},
	} {
		if got := expectedLevel(tt.msg, tt.args); got != tt.want {
			t.Errorf("%s %v: level %v, want %v", tt.msg, tt.args, got, tt.want)
		}
	}
	var buf bytes.Buffer
	l := newHCLogger(slog.New(slog.NewTextHandler(&buf, nil)), slog.LevelInfo, "raft")
	l.Error("failed to decode incoming command", "error", closed)
	l.Error("peer has newer term, stopping replication")
	if out := buf.String(); strings.Contains(out, "level=ERROR") || !strings.Contains(out, "level=INFO msg=\"peer has newer term") || strings.Contains(out, "decode") {
		t.Errorf("logged:\n%s", out)
	}
}
