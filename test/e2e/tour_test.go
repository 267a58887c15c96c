package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/carriermq/carrier/client"
	"github.com/carriermq/carrier/protocol"
)

// TestReadmeTour drives the carrier binary through the README's tour, step
// by step, and checks what each command prints. Where the README says
// "Ctrl-C", the test sends SIGINT.
func TestReadmeTour(t *testing.T) {
	srv := startServer(t)
	tour := &tour{t: t, srv: srv}

	if out := srv.cli("queue", "create", "orders", "--max-age", "24h"); !strings.HasPrefix(out, "created queue orders") {
		t.Errorf("queue create printed %q", out)
	}
	consumer := tour.startConsumer("orders", "billing")
	tour.pub(1, "orders", `{"id":1,"total":9.5}`, "order.created")
	tour.pub(2, "orders", `{"id":2,"total":20}`, "order.created")
	tour.pub(3, "orders", `{"id":1}`, "order.paid")
	tour.stopConsumer(consumer, "orders", "billing", 3,
		`#1 order.created {"id":1,"total":9.5}`,
		`#2 order.created {"id":2,"total":20}`,
		`#3 order.paid {"id":1}`)

	tour.pub(4, "orders", `{"id":3,"total":7}`, "order.created")
	tour.pub(5, "orders", `{"id":2}`, "order.paid")
	consumer = tour.startConsumer("orders", "billing")
	tour.stopConsumer(consumer, "orders", "billing", 5,
		`#4 order.created {"id":3,"total":7}`,
		`#5 order.paid {"id":2}`)

	tour.inspect()
	tour.tailAndDedup()
	tour.deadLetters()
	tour.http()
	tour.restart()
}

type tour struct {
	t   *testing.T
	srv *server
}

// pub publishes like the README and checks the confirmation line.
func (tr *tour) pub(seq int, queue, data, event string) {
	tr.t.Helper()
	out := tr.srv.cli("pub", queue, data, "--event", event)
	want := fmt.Sprintf("%s #%d published (id ", queue, seq)
	if !strings.HasPrefix(out, want) {
		tr.t.Errorf("pub %s printed %q, want it to start with %q", data, out, want)
	}
}

// startConsumer runs "carrier sub QUEUE --group GROUP" in the background and
// waits until it is a member of the group.
func (tr *tour) startConsumer(queue, group string) *background {
	tr.t.Helper()
	b := tr.srv.startCLI("sub", queue, "--group", group)
	err := poll(30*time.Second, 50*time.Millisecond, func() error {
		g, err := tr.group(queue, group)
		if err == nil && g.Members != 1 {
			err = fmt.Errorf("group %s has %d members", group, g.Members)
		}
		return err
	})
	if err != nil {
		tr.t.Fatalf("consumer did not join: %v\nstderr: %s", err, b.stderr)
	}
	return b
}

// stopConsumer waits until the consumer printed want and acked up to
// ackFloor, then stops it with SIGINT (Ctrl-C) and checks its output.
func (tr *tour) stopConsumer(b *background, queue, group string, ackFloor uint64, want ...string) {
	tr.t.Helper()
	err := poll(30*time.Second, 50*time.Millisecond, func() error {
		g, err := tr.group(queue, group)
		if err == nil && g.AckFloor < ackFloor {
			err = fmt.Errorf("ack floor %d, want %d; consumer printed %q", g.AckFloor, ackFloor, b.stdout)
		}
		return err
	})
	if err != nil {
		tr.t.Fatalf("consumer did not ack: %v", err)
	}
	if err := b.cmd.Process.Signal(os.Interrupt); err != nil {
		tr.t.Fatalf("interrupt consumer: %v", err)
	}
	out := b.wait(tr.t, 30*time.Second)
	if got := lines(out); strings.Join(got, "\n") != strings.Join(want, "\n") {
		tr.t.Errorf("consumer printed:\n%s\nwant:\n%s", out, strings.Join(want, "\n"))
	}
}

func (tr *tour) group(queue, group string) (protocol.GroupInfo, error) {
	admin, err := client.NewAdmin(tr.srv.URL(), nil)
	if err != nil {
		return protocol.GroupInfo{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return admin.Group(ctx, queue, group)
}

func (tr *tour) inspect() {
	tr.t.Helper()
	ls := tr.srv.cli("queue", "ls")
	if !strings.Contains(ls, "NAME") || !strings.Contains(ls, "orders") || !strings.Contains(ls, "billing") {
		tr.t.Errorf("queue ls printed:\n%s", ls)
	}
	info := tr.srv.cli("queue", "info", "orders")
	for _, want := range []string{"Queue:", "orders", "Messages:", "5 (", "billing", "maxAge=24h"} {
		if !strings.Contains(info, want) {
			tr.t.Errorf("queue info does not show %q:\n%s", want, info)
		}
	}
}

func (tr *tour) tailAndDedup() {
	tr.t.Helper()
	out := tr.srv.cli("sub", "orders", "--from", "first", "--count", "5")
	got := lines(out)
	if len(got) != 5 || !strings.HasPrefix(got[0], "#1 order.created") || !strings.HasPrefix(got[4], "#5 order.paid") {
		tr.t.Errorf("tail from first printed:\n%s", out)
	}
	first := tr.srv.cli("pub", "orders", `{"id":4}`, "--id", "order-4")
	again := tr.srv.cli("pub", "orders", `{"id":4}`, "--id", "order-4")
	if first != "orders #6 published (id order-4)\n" || again != "orders #6 duplicate, already stored (id order-4)\n" {
		tr.t.Errorf("publishing an id twice printed %q then %q", first, again)
	}
}

func (tr *tour) deadLetters() {
	tr.t.Helper()
	tr.srv.cli("queue", "create", "jobs", "--ack-wait", "2s", "--max-deliver", "2", "--start", "first")
	tr.pub(1, "jobs", `{"task":"resize","image":42}`, "job")
	out := tr.srv.cli("sub", "jobs", "--group", "workers", "--ack=false", "--count", "2")
	want := "#1 job {\"task\":\"resize\",\"image\":42}\n#1 job {\"task\":\"resize\",\"image\":42} (attempt 2)\n"
	if out != want {
		tr.t.Errorf("unacking consumer printed:\n%s\nwant:\n%s", out, want)
	}
	ls := tr.srv.cli("dlq", "ls", "jobs")
	if !strings.Contains(ls, "DLSEQ") || !strings.Contains(ls, "workers") || !strings.Contains(ls, `"resize"`) {
		tr.t.Errorf("dlq ls printed:\n%s", ls)
	}
	if out := tr.srv.cli("dlq", "redrive", "jobs"); out != "1 dead letter of jobs redriven\n" {
		tr.t.Errorf("dlq redrive printed %q", out)
	}
	if out := tr.srv.cli("sub", "jobs", "--group", "workers", "--count", "1"); out != "#1 job {\"task\":\"resize\",\"image\":42}\n" {
		tr.t.Errorf("consumer after redrive printed %q", out)
	}
	if out := tr.srv.cli("dlq", "ls", "jobs"); out != "no dead letters in jobs\n" {
		tr.t.Errorf("dlq ls after redrive printed %q", out)
	}
}

// http runs the README's curl examples with net/http.
func (tr *tour) http() {
	tr.t.Helper()
	base := tr.srv.URL()
	var list protocol.QueueList
	tr.httpJSON("GET", base+"/v1/queues", "", &list)
	if len(list.Queues) != 2 || list.Queues[0].Name != "jobs" || list.Queues[1].Name != "orders" {
		tr.t.Errorf("GET /v1/queues = %+v", list)
	}
	var pub protocol.Published
	tr.httpJSON("POST", base+"/v1/queues/orders/messages", `{"event":"order.created","data":{"id":5,"total":12}}`, &pub)
	if pub.Seq != 7 || pub.MsgID == "" {
		tr.t.Errorf("POST message = %+v, want seq 7 with an id", pub)
	}
	var msgs protocol.MessageList
	tr.httpJSON("GET", base+"/v1/queues/orders/messages?from=1&limit=10", "", &msgs)
	if len(msgs.Messages) != 7 || string(msgs.Messages[6].Data) != `{"id":5,"total":12}` {
		tr.t.Errorf("GET messages = %+v", msgs)
	}
	var g protocol.GroupInfo
	tr.httpJSON("GET", base+"/v1/queues/orders/groups/billing", "", &g)
	if g.Name != "billing" || g.AckFloor != 5 {
		tr.t.Errorf("GET group = %+v", g)
	}
	var st protocol.ClusterStatus
	tr.httpJSON("GET", base+"/v1/cluster", "", &st)
	if st.NodeID != "e2e-1" || st.State != "Leader" {
		tr.t.Errorf("GET /v1/cluster = %+v", st)
	}
	tr.httpJSON("GET", base+"/readyz", "", nil)
}

func (tr *tour) httpJSON(method, url, body string, out any) {
	tr.t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		tr.t.Fatal(err)
	}
	hc := &http.Client{Timeout: 10 * time.Second}
	resp, err := hc.Do(req)
	if err != nil {
		tr.t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		tr.t.Fatalf("%s %s: HTTP %d %s", method, url, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			tr.t.Fatalf("%s %s: %v in %s", method, url, err, b)
		}
	}
}

// restart stops the server like Ctrl-C and starts it again: everything
// confirmed is still there.
func (tr *tour) restart() {
	tr.t.Helper()
	if err := tr.srv.stop(); err != nil {
		tr.t.Fatalf("stop server: %v", err)
	}
	tr.srv.start()
	info := tr.srv.cli("queue", "info", "orders", "--json")
	var q protocol.QueueInfo
	if err := json.Unmarshal([]byte(info), &q); err != nil {
		tr.t.Fatalf("queue info --json: %v in %q", err, info)
	}
	if q.Messages != 7 || q.LastSeq != 7 {
		tr.t.Errorf("after restart orders has %d messages, last seq %d; want 7 and 7", q.Messages, q.LastSeq)
	}
}

func lines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}
