package cluster

import (
	"log/slog"
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
