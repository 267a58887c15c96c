package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestConsumerRidesThroughServerCrash keeps one "carrier sub --group"
// process running while the server is killed with SIGKILL and started
// again: the consumer reconnects by itself, rejoins its group and receives
// everything published before and after the crash.
func TestConsumerRidesThroughServerCrash(t *testing.T) {
	srv := startServer(t)
	consumer := srv.startCLI("sub", "events", "--group", "app", "--json")
	tr := &tour{t: t, srv: srv}
	err := poll(30*time.Second, 50*time.Millisecond, func() error {
		g, err := tr.group("events", "app")
		if err == nil && g.Members != 1 {
			err = fmt.Errorf("%d members", g.Members)
		}
		return err
	})
	if err != nil {
		t.Fatalf("consumer did not join: %v\nstderr: %s", err, consumer.stderr)
	}
	for i := 1; i <= 3; i++ {
		srv.cli("pub", "events", fmt.Sprint(i))
	}
	waitForSeqs(t, consumer, 3)
	srv.kill9()
	srv.start()
	for i := 4; i <= 6; i++ {
		srv.cli("pub", "events", fmt.Sprint(i))
	}
	waitForSeqs(t, consumer, 6)
	err = poll(30*time.Second, 50*time.Millisecond, func() error {
		g, err := tr.group("events", "app")
		if err == nil && (g.AckFloor != 6 || g.Members != 1) {
			err = fmt.Errorf("ack floor %d with %d members", g.AckFloor, g.Members)
		}
		return err
	})
	if err != nil {
		t.Fatalf("after the crash: %v\nconsumer stderr: %s", err, consumer.stderr)
	}
}

// waitForSeqs waits until the consumer has printed every seq from 1 to n
// (a message may come twice after the crash: at-least-once).
func waitForSeqs(t *testing.T, b *background, n uint64) {
	t.Helper()
	err := poll(60*time.Second, 50*time.Millisecond, func() error {
		seen := map[uint64]bool{}
		for _, line := range lines(b.stdout.String()) {
			var d struct {
				Seq uint64 `json:"seq"`
			}
			if err := json.Unmarshal([]byte(line), &d); err != nil {
				return errStop{Err: fmt.Errorf("consumer printed %q: %w", line, err)}
			}
			seen[d.Seq] = true
		}
		for s := uint64(1); s <= n; s++ {
			if !seen[s] {
				return fmt.Errorf("seq %d not received yet", s)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%v\nconsumer stdout:\n%s\nstderr:\n%s", err, b.stdout, strings.TrimSpace(b.stderr.String()))
	}
}
