package controller_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	carrier "github.com/carriermq/carrier/client"
	"github.com/carriermq/carrier/operator/api/v1alpha1"
	"github.com/carriermq/carrier/protocol"
)

// A Queue and a ConsumerGroup against a live one-node cluster: created
// with their settings, depth in status after publishes, updated in place,
// re-created after an out-of-band delete, a concurrent If-Match update not
// lost, then deleted (Delete) or kept (Retain).
func TestQueueAndGroup(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cl := e.startCluster("events", 1)
	admin := cl.Nodes()[0].Admin()
	race := &raceHook{}
	e.startOperator(&http.Client{Timeout: 5 * time.Second, Transport: race})
	if err := e.c.Create(ctx(t), newCluster("events", 1)); err != nil {
		t.Fatal(err)
	}
	q := newQueue("orders", v1alpha1.DeletionDelete)
	g := newGroup("billing", "orders", v1alpha1.DeletionDelete)
	for _, o := range []client.Object{q, g} {
		if err := e.c.Create(ctx(t), o); err != nil {
			t.Fatal(err)
		}
	}
	info := e.waitQueue(admin, q, func(i protocol.QueueInfo) bool { return i.Config.MaxMessages == 1000 })
	if info.Config.MaxAge != "1h0m0s" || info.Config.Group.MaxDeliver != 3 {
		t.Errorf("queue config %+v, want maxAge 1h and group maxDeliver 3 from the spec", info.Config)
	}
	e.waitGroup(admin, g, func(i protocol.GroupInfo) bool { return i.Config.AckWait == "10s" && i.Config.MaxInFlight == 20 })
	publish(t, admin, "orders", 5)
	e.waitQueueStatus(q, func(st v1alpha1.QueueStatus) bool { return st.Messages == 5 && st.Groups == 1 && st.Bytes > 0 })
	e.waitGroupStatus(g, func(st v1alpha1.ConsumerGroupStatus) bool { return st.Pending == 5 })
	e.steady(6*refresh, q, g)

	updateInPlace(t, e, admin, q, g, info)
	recreate(t, e, admin, q, g)
	concurrentUpdate(t, e, admin, q, race)
	retainAndDelete(t, e, admin, q, g)
}

func newQueue(name string, policy v1alpha1.DeletionPolicy) *v1alpha1.Queue {
	return &v1alpha1.Queue{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: v1alpha1.QueueSpec{
		ClusterRef: v1alpha1.LocalObjectReference{Name: "events"}, Name: name, DeletionPolicy: policy,
		Limits:        &v1alpha1.QueueLimits{MaxMessages: ptr.To[int64](1000), MaxAge: ptr.To(v1alpha1.Duration("1h"))},
		GroupDefaults: &v1alpha1.GroupSettings{MaxDeliver: ptr.To[int32](3)},
	}}
}

func newGroup(name, queue string, policy v1alpha1.DeletionPolicy) *v1alpha1.ConsumerGroup {
	return &v1alpha1.ConsumerGroup{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: v1alpha1.ConsumerGroupSpec{
		QueueRef: v1alpha1.LocalObjectReference{Name: queue}, Name: name, DeletionPolicy: policy,
		GroupSettings: v1alpha1.GroupSettings{AckWait: ptr.To(v1alpha1.Duration("10s")), MaxInFlight: ptr.To[int32](20),
			Start: &v1alpha1.StartPosition{Kind: v1alpha1.StartFirst}},
	}}
}

// updateInPlace changes settings of both: the queue keeps its messages and
// creation time, the group its pending messages.
func updateInPlace(t *testing.T, e *env, admin *carrier.Admin, q *v1alpha1.Queue, g *v1alpha1.ConsumerGroup, before protocol.QueueInfo) {
	update(t, e, q, func() { q.Spec.Limits.MaxMessages = ptr.To[int64](2000) })
	update(t, e, g, func() { g.Spec.MaxInFlight = ptr.To[int32](50) })
	info := e.waitQueue(admin, q, func(i protocol.QueueInfo) bool { return i.Config.MaxMessages == 2000 })
	if info.Created != before.Created || info.Messages != 5 {
		t.Errorf("queue after update: created %s, %d messages; want created %s and 5 messages (in place)", info.Created, info.Messages, before.Created)
	}
	gi := e.waitGroup(admin, g, func(i protocol.GroupInfo) bool { return i.Config.MaxInFlight == 50 })
	if gi.Pending != 5 || gi.Config.AckWait != "10s" {
		t.Errorf("group after update: %+v; want 5 pending and ackWait 10s kept", gi)
	}
	e.waitEvent(q, "Updated")
	e.waitEvent(g, "Updated")
}

// recreate deletes the queue behind the operator's back: the queue (and
// with it the group) comes back, and events say so.
func recreate(t *testing.T, e *env, admin *carrier.Admin, q *v1alpha1.Queue, g *v1alpha1.ConsumerGroup) {
	before, err := admin.Queue(ctx(t), q.Spec.Name)
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.DeleteQueue(ctx(t), q.Spec.Name); err != nil {
		t.Fatal(err)
	}
	info := e.waitQueue(admin, q, func(i protocol.QueueInfo) bool { return i.Created != before.Created })
	if info.Config.MaxMessages != 2000 {
		t.Errorf("re-created queue config %+v, want the spec's maxMessages 2000", info.Config)
	}
	e.waitGroup(admin, g, func(i protocol.GroupInfo) bool { return i.Config.MaxInFlight == 50 })
	e.waitEvent(q, "Recreated")
	e.waitEvent(g, "Recreated")
}

// concurrentUpdate: a user's read-modify-write through the admin API with
// If-Match lands between the operator's read and its PATCH. The operator's
// PATCH (If-Match the version it read) is refused, it reads again and
// re-applies the spec: both changes are there.
func concurrentUpdate(t *testing.T, e *env, admin *carrier.Admin, q *v1alpha1.Queue, race *raceHook) {
	race.arm("/v1/queues/"+q.Spec.Name, func() error {
		info, err := admin.Queue(context.Background(), q.Spec.Name)
		if err != nil {
			return err
		}
		_, err = admin.UpdateQueue(context.Background(), q.Spec.Name, protocol.QueueConfig{DedupWindow: "5m"}, info.ETag)
		return err
	})
	update(t, e, q, func() { q.Spec.Limits.MaxMessages = ptr.To[int64](3000) })
	info := e.waitQueue(admin, q, func(i protocol.QueueInfo) bool { return i.Config.MaxMessages == 3000 })
	if err := race.result(); err != nil {
		t.Fatalf("the user's update: %v", err)
	}
	if info.Config.DedupWindow != "5m0s" {
		t.Errorf("dedupWindow %q: the user's concurrent update was lost", info.Config.DedupWindow)
	}
	if n := race.refused.Load(); n < 1 {
		t.Errorf("the operator's PATCH was refused %d times, want at least once (If-Match of a stale version)", n)
	}
}

// retainAndDelete: a Retain queue stays in Carrier when its resource goes;
// Delete ones (group, then queue) are deleted in Carrier.
func retainAndDelete(t *testing.T, e *env, admin *carrier.Admin, q *v1alpha1.Queue, g *v1alpha1.ConsumerGroup) {
	kept := newQueue("audit", v1alpha1.DeletionRetain)
	if err := e.c.Create(ctx(t), kept); err != nil {
		t.Fatal(err)
	}
	e.waitQueue(admin, kept, func(protocol.QueueInfo) bool { return true })
	e.waitFinalizer(kept)
	for _, o := range []client.Object{kept, g, q} {
		if err := e.c.Delete(ctx(t), o); err != nil {
			t.Fatal(err)
		}
		e.waitGone(o)
	}
	if _, err := admin.Queue(ctx(t), kept.Spec.Name); err != nil {
		t.Errorf("Retain: queue %s after its resource was deleted: %v", kept.Spec.Name, err)
	}
	if _, err := admin.Queue(ctx(t), q.Spec.Name); carrier.CodeOf(err) != protocol.CodeQueueNotFound {
		t.Errorf("Delete: queue %s after its resource was deleted: %v, want queue_not_found", q.Spec.Name, err)
	}
}

// raceHook is the operator's HTTP transport; armed, it runs a user's
// change just before the operator's next PATCH of a path goes out, and
// counts the refusals (412) the operator then gets.
type raceHook struct {
	mu      sync.Mutex
	path    string
	user    func() error
	err     error
	done    bool
	refused atomic.Int32
}

func (h *raceHook) arm(path string, user func() error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.path, h.user, h.done = path, user, false
}

func (h *raceHook) result() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.done {
		return errors.New("the operator sent no PATCH")
	}
	return h.err
}

func (h *raceHook) RoundTrip(req *http.Request) (*http.Response, error) {
	h.mu.Lock()
	if h.user != nil && req.Method == http.MethodPatch && req.URL.Path == h.path {
		h.err, h.done, h.user = h.user(), true, nil
	}
	h.mu.Unlock()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err == nil && resp.StatusCode == http.StatusPreconditionFailed {
		h.refused.Add(1)
	}
	return resp, err
}

func publish(t *testing.T, admin *carrier.Admin, queue string, n int) {
	t.Helper()
	for i := range n {
		if _, err := admin.Publish(ctx(t), queue, carrier.Message{Event: "placed", Data: []byte(fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
	}
}

// update changes obj's spec with change (after a fresh read), retrying on
// a conflict.
func update(t *testing.T, e *env, obj client.Object, change func()) {
	t.Helper()
	eventually(t, "update "+obj.GetName(), func() error {
		if err := e.get(obj); err != nil {
			return err
		}
		change()
		return e.c.Update(context.Background(), obj)
	})
}

// waitFor polls read until ok accepts what it returns, and returns that.
func waitFor[T any](t *testing.T, what string, read func() (T, error), ok func(T) bool) T {
	t.Helper()
	var v T
	eventually(t, what, func() error {
		var err error
		if v, err = read(); err != nil {
			return err
		}
		if !ok(v) {
			return fmt.Errorf("%+v", v)
		}
		return nil
	})
	return v
}

func (e *env) waitQueue(admin *carrier.Admin, q *v1alpha1.Queue, ok func(protocol.QueueInfo) bool) protocol.QueueInfo {
	return waitFor(e.t, "queue "+q.Spec.Name+" in Carrier", func() (protocol.QueueInfo, error) {
		return admin.Queue(context.Background(), q.Spec.Name)
	}, ok)
}

func (e *env) waitGroup(admin *carrier.Admin, g *v1alpha1.ConsumerGroup, ok func(protocol.GroupInfo) bool) protocol.GroupInfo {
	return waitFor(e.t, "group "+g.Spec.Name+" in Carrier", func() (protocol.GroupInfo, error) {
		return admin.Group(context.Background(), "orders", g.Spec.Name)
	}, ok)
}

// waitQueueStatus waits for a Ready status that ok accepts.
func (e *env) waitQueueStatus(q *v1alpha1.Queue, ok func(v1alpha1.QueueStatus) bool) {
	waitFor(e.t, "status of Queue "+q.Name, func() (v1alpha1.QueueStatus, error) {
		err := e.get(q)
		return q.Status, err
	}, func(st v1alpha1.QueueStatus) bool { return ok(st) && synced(st.Conditions) })
}

// waitGroupStatus waits for a Ready status that ok accepts.
func (e *env) waitGroupStatus(g *v1alpha1.ConsumerGroup, ok func(v1alpha1.ConsumerGroupStatus) bool) {
	waitFor(e.t, "status of ConsumerGroup "+g.Name, func() (v1alpha1.ConsumerGroupStatus, error) {
		err := e.get(g)
		return g.Status, err
	}, func(st v1alpha1.ConsumerGroupStatus) bool { return ok(st) && synced(st.Conditions) })
}

func synced(conds []metav1.Condition) bool {
	return condition(conds, v1alpha1.ConditionReady, "True", "Synced") == nil
}

// waitEvent waits for an event about obj with reason.
func (e *env) waitEvent(obj client.Object, reason string) {
	eventually(e.t, reason+" event on "+obj.GetName(), func() error {
		var list eventsv1.EventList
		if err := e.c.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, ev := range list.Items {
			if ev.Regarding.Name == obj.GetName() && ev.Reason == reason {
				return nil
			}
		}
		return fmt.Errorf("no %s event among %d", reason, len(list.Items))
	})
}

func (e *env) waitFinalizer(obj client.Object) {
	eventually(e.t, "finalizer on "+obj.GetName(), func() error {
		if err := e.get(obj); err != nil {
			return err
		}
		if len(obj.GetFinalizers()) == 0 {
			return errors.New("no finalizer yet")
		}
		return nil
	})
}

func (e *env) waitGone(obj client.Object) {
	eventually(e.t, obj.GetName()+" deleted", func() error {
		err := e.get(obj)
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there (finalizers %v): %v", obj.GetFinalizers(), err)
	})
}
