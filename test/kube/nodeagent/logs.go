package main

import (
	"bytes"
	"os"
	"sync"
)

// logWriter takes a container's output: it appends it to the container's
// log file (kept across restarts, read by GetContainerLogs) and copies each
// line to the agent's stderr, prefixed with the pod and container, so that
// whoever runs the agent sees what its containers say.
type logWriter struct {
	prefix string
	mu     sync.Mutex
	file   *os.File
	line   []byte
}

func newLogWriter(path, prefix string) (*logWriter, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	return &logWriter{prefix: prefix, file: f}, nil
}

func (w *logWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := w.file.Write(b); err != nil {
		return 0, err
	}
	w.line = append(w.line, b...)
	for {
		i := bytes.IndexByte(w.line, '\n')
		if i < 0 {
			break
		}
		os.Stderr.Write(append([]byte(w.prefix), w.line[:i+1]...))
		w.line = w.line[i+1:]
	}
	if len(w.line) > 64<<10 { // a very long line: out in pieces
		os.Stderr.Write(append(append([]byte(w.prefix), w.line...), '\n'))
		w.line = w.line[:0]
	}
	return len(b), nil
}

// Close writes what is left of the last line and closes the file.
func (w *logWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.line) > 0 {
		os.Stderr.Write(append(append([]byte(w.prefix), w.line...), '\n'))
		w.line = nil
	}
	return w.file.Close()
}
