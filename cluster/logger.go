package cluster

import (
	"context"
	"errors"
	"io"
	"log"
	"log/slog"
	"net"
	"strings"

	"github.com/hashicorp/go-hclog"
)

// hclogAdapter sends the logs of hashicorp/raft and raft-wal, which speak
// hclog, to a *slog.Logger. Records below level are dropped before any
// formatting (raft is chatty at Info and below). It is safe for concurrent
// use: it holds no mutable state besides the slog.Logger, which is.
type hclogAdapter struct {
	logger  *slog.Logger
	level   slog.Level
	name    string
	implied []any
}

var _ hclog.Logger = (*hclogAdapter)(nil)

// newHCLogger returns an hclog.Logger writing to logger at level and above.
func newHCLogger(logger *slog.Logger, level slog.Level, name string) hclog.Logger {
	return &hclogAdapter{logger: logger, level: level, name: name}
}

// slogLevel maps hclog's levels onto slog's.
func slogLevel(l hclog.Level) slog.Level {
	switch {
	case l <= hclog.Debug:
		return slog.LevelDebug
	case l == hclog.Info:
		return slog.LevelInfo
	case l == hclog.Warn:
		return slog.LevelWarn
	default:
		return slog.LevelError
	}
}

// hclogLevel maps slog's levels onto hclog's.
func hclogLevel(l slog.Level) hclog.Level {
	switch {
	case l < slog.LevelInfo:
		return hclog.Debug
	case l < slog.LevelWarn:
		return hclog.Info
	case l < slog.LevelError:
		return hclog.Warn
	default:
		return hclog.Error
	}
}

func (a *hclogAdapter) Log(level hclog.Level, msg string, args ...any) {
	l := min(slogLevel(level), expectedLevel(msg, args))
	if l < a.level || !a.logger.Enabled(context.Background(), l) {
		return
	}
	attrs := make([]any, 0, len(a.implied)+len(args)+2)
	if a.name != "" {
		attrs = append(attrs, "component", a.name)
	}
	attrs = append(attrs, a.implied...)
	attrs = append(attrs, args...)
	a.logger.Log(context.Background(), l, msg, attrs...)
}

// closedConn ends the text of errors on a connection this process closed.
const closedConn = "use of closed network connection"

// expectedLevel caps the level of raft's records that report a normal
// event as an error, so that a clean stop or a leadership hand-over logs
// no ERROR: a leader learning of a newer term (it handed leadership over,
// or was deposed) is Info, and a read on a connection this node closed
// while stopping is Debug. Anything else keeps raft's level.
func expectedLevel(msg string, args []any) slog.Level {
	if msg == "peer has newer term, stopping replication" {
		return slog.LevelInfo
	}
	for _, a := range args {
		if err, ok := a.(error); ok && (errors.Is(err, net.ErrClosed) || strings.HasSuffix(err.Error(), closedConn)) {
			return slog.LevelDebug
		}
	}
	return slog.LevelError
}

func (a *hclogAdapter) Trace(msg string, args ...any) { a.Log(hclog.Trace, msg, args...) }
func (a *hclogAdapter) Debug(msg string, args ...any) { a.Log(hclog.Debug, msg, args...) }
func (a *hclogAdapter) Info(msg string, args ...any)  { a.Log(hclog.Info, msg, args...) }
func (a *hclogAdapter) Warn(msg string, args ...any)  { a.Log(hclog.Warn, msg, args...) }
func (a *hclogAdapter) Error(msg string, args ...any) { a.Log(hclog.Error, msg, args...) }

func (a *hclogAdapter) enabled(l hclog.Level) bool { return slogLevel(l) >= a.level }

func (a *hclogAdapter) IsTrace() bool { return a.enabled(hclog.Trace) }
func (a *hclogAdapter) IsDebug() bool { return a.enabled(hclog.Debug) }
func (a *hclogAdapter) IsInfo() bool  { return a.enabled(hclog.Info) }
func (a *hclogAdapter) IsWarn() bool  { return a.enabled(hclog.Warn) }
func (a *hclogAdapter) IsError() bool { return a.enabled(hclog.Error) }

func (a *hclogAdapter) ImpliedArgs() []any { return a.implied }

func (a *hclogAdapter) With(args ...any) hclog.Logger {
	c := *a
	c.implied = append(append([]any(nil), a.implied...), args...)
	return &c
}

func (a *hclogAdapter) Name() string { return a.name }

func (a *hclogAdapter) Named(name string) hclog.Logger {
	if a.name != "" {
		name = a.name + "." + name
	}
	return a.ResetNamed(name)
}

func (a *hclogAdapter) ResetNamed(name string) hclog.Logger {
	c := *a
	c.name = name
	return &c
}

// SetLevel is ignored: the level is fixed by Config.RaftLogLevel so that
// loggers handed out earlier cannot change under a running node.
func (a *hclogAdapter) SetLevel(hclog.Level) {}

func (a *hclogAdapter) GetLevel() hclog.Level { return hclogLevel(a.level) }

func (a *hclogAdapter) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(a.StandardWriter(opts), "", 0)
}

func (a *hclogAdapter) StandardWriter(*hclog.StandardLoggerOptions) io.Writer {
	return stdWriter{a}
}

// stdWriter turns lines written by a standard *log.Logger into Info records.
type stdWriter struct{ a *hclogAdapter }

func (w stdWriter) Write(p []byte) (int, error) {
	w.a.Info(strings.TrimSpace(string(p)))
	return len(p), nil
}
