package controller

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	carrier "github.com/carriermq/carrier/client"
	"github.com/carriermq/carrier/operator/api/v1alpha1"
	"github.com/carriermq/carrier/protocol"
)

// The reconcile flow of a Queue or a ConsumerGroup: the kinds differ only
// in what they resolve and which admin routes they call, which they bind
// into parts and rounds for one reconcile.

// maxAttempts bounds the read → compare → PATCH If-Match rounds of one
// reconcile; each precondition_failed means someone else changed the
// settings in between, and the next round re-reads them.
const maxAttempts = 4

// parts are a Queue's or a ConsumerGroup's share of the flow, bound to the
// object being reconciled.
type parts struct {
	what   string // "queue orders", for events and logs
	policy v1alpha1.DeletionPolicy
	state  syncState // pointers into the object's status
	ready  string    // the Ready message once synced
	// sync makes the object in Carrier match the spec and records what it
	// read in the status (only on success: the counts stay as last read).
	sync func(ctx context.Context) error
	// del deletes the object in Carrier; one already gone is no error, a
	// cluster gone (gone(err)) leaves nothing to delete.
	del func(ctx context.Context) error
}

// reconcileManaged: being deleted → carry out deletionPolicy; otherwise
// the finalizer, the sync, the status and the next look.
func (r *reconciler) reconcileManaged(ctx context.Context, obj client.Object, p parts) (ctrl.Result, error) {
	if obj.GetDeletionTimestamp() != nil {
		return r.deleteManaged(ctx, obj, p)
	}
	if err := r.ensureFinalizer(ctx, obj); err != nil {
		return ctrl.Result{}, err
	}
	orig := obj.DeepCopyObject().(client.Object)
	err := p.sync(ctx)
	if err != nil {
		log.FromContext(ctx).Info("not synced", "object", p.what, "err", err.Error())
	}
	p.state.record(err, p.ready)
	return r.settle(ctx, obj, orig, p.state, func() bool { return statusChanged(orig, obj) })
}

// deleteManaged carries out deletionPolicy; while the cluster cannot be
// reached the resource waits with its finalizer, and its conditions say
// why.
func (r *reconciler) deleteManaged(ctx context.Context, obj client.Object, p parts) (ctrl.Result, error) {
	orig := obj.DeepCopyObject().(client.Object)
	err := r.finalize(ctx, obj, p.policy, func() error {
		err := p.del(ctx)
		switch {
		case gone(err):
			r.event(obj, true, "NotDeleted", "Delete", "%s not deleted: %v", p.what, err)
			return errGone
		case err != nil:
			return fmt.Errorf("delete %s: %w", p.what, err)
		}
		r.event(obj, false, "Deleted", "Delete", "deleted %s (deletionPolicy Delete)", p.what)
		return nil
	})
	if err == nil {
		return ctrl.Result{}, nil
	}
	deletePending(p.state.conds, err, p.state.gen)
	return r.settle(ctx, obj, orig, p.state, func() bool { return true })
}

// statusChanged reports whether a's and b's status differ.
func statusChanged(a, b client.Object) bool {
	ua, errA := runtime.DefaultUnstructuredConverter.ToUnstructured(a)
	ub, errB := runtime.DefaultUnstructuredConverter.ToUnstructured(b)
	return errA != nil || errB != nil || !equality.Semantic.DeepEqual(ua["status"], ub["status"])
}

// rounds are a kind's admin calls for one object; I is its info type
// (protocol.QueueInfo or protocol.GroupInfo).
type rounds[I any] struct {
	obj      client.Object
	what     string // "queue orders"
	where    string // "cluster events"
	seen     bool   // status.etag is set: the operator saw the object before
	notFound string // the code of a missing object
	exists   string // the code of a create that another one beat
	read     func() (I, error)
	create   func() (I, error)
	drift    func(I) []string   // the settings of the spec that differ
	patch    func(I) (I, error) // PATCH the spec's settings If-Match the version of I
}

// syncRounds makes the object match the spec and returns what it read
// last. Each round reads it (its version with it); a missing object is
// created, differing settings are PATCHed If-Match that version; a
// precondition_failed (the settings changed in between) or an "exists"
// (someone created it in between) starts a new round, which reads again.
func syncRounds[I any](ctx context.Context, r *reconciler, k rounds[I]) (I, error) {
	for range maxAttempts {
		info, err := k.read()
		switch {
		case carrier.CodeOf(err) == k.notFound:
			info, err = createOnce(r, k)
		case err == nil:
			info, err = updateOnce(r, k, info)
		}
		if code := carrier.CodeOf(err); code != protocol.CodePreconditionFailed && code != k.exists {
			return info, err
		}
		log.FromContext(ctx).V(1).Info("changed concurrently, reading again", "object", k.what, "code", carrier.CodeOf(err))
	}
	var zero I
	return zero, fmt.Errorf("%s: its settings changed %d times while being updated; trying again later", k.what, maxAttempts)
}

// createOnce creates the object. When the operator had seen it before, it
// was deleted outside the operator: the event says it was re-created.
func createOnce[I any](r *reconciler, k rounds[I]) (I, error) {
	info, err := k.create()
	switch {
	case err != nil:
	case k.seen:
		r.event(k.obj, true, "Recreated", "Create", "%s was missing from %s (deleted outside the operator); created it again from the spec, without its former messages", k.what, k.where)
	default:
		r.event(k.obj, false, "Created", "Create", "created %s in %s", k.what, k.where)
	}
	return info, err
}

// updateOnce PATCHes the settings that differ; nothing when none does.
func updateOnce[I any](r *reconciler, k rounds[I], info I) (I, error) {
	d := k.drift(info)
	if len(d) == 0 {
		return info, nil
	}
	out, err := k.patch(info)
	if err == nil {
		r.event(k.obj, false, "Updated", "Update", "set %s of %s in place, as the spec says", strings.Join(d, ", "), k.what)
	}
	return out, err
}

// ignoreCodes returns nil for an error carrying one of codes (an object
// already gone), else err.
func ignoreCodes(err error, codes ...string) error {
	for _, c := range codes {
		if carrier.CodeOf(err) == c {
			return nil
		}
	}
	return err
}
