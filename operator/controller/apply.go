package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Children are written with server-side apply under the field owner
// "carrier-operator": the operator owns exactly the fields the builders
// set, and a field it does not set (one a user or another controller
// added: an annotation, a Service's sessionAffinity, a default the API
// server filled in) is never overwritten or removed. A field the builders
// set and someone changed is taken back (ForceOwnership): those are the
// spec's. A field the builders stop setting is removed by the next apply.

// applyIfChanged applies want unless live (nil when absent) already holds
// every field of want with the same value; an unchanged child is not
// written at all, so its resourceVersion stays as it is.
func (r *reconciler) applyIfChanged(ctx context.Context, want, live client.Object) error {
	desired, err := applyContent(want)
	if err != nil {
		return err
	}
	if live != nil && !reflect.ValueOf(live).IsNil() {
		have, err := toMap(live)
		if err != nil {
			return err
		}
		if contains(have, withoutType(desired)) {
			return nil
		}
	}
	return r.apply(ctx, desired)
}

// apply sends desired (an object's applied content) with server-side apply.
func (r *reconciler) apply(ctx context.Context, desired map[string]any) error {
	u := &unstructured.Unstructured{Object: desired}
	err := r.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(fieldOwner), client.ForceOwnership)
	if err != nil {
		return fmt.Errorf("apply %s %s: %w", u.GetKind(), u.GetName(), err)
	}
	return nil
}

// applyContent is obj as JSON without what an apply must not carry: its
// status, and the nulls Go's zero values encode (creationTimestamp), which
// would claim fields the builders never set.
func applyContent(obj client.Object) (map[string]any, error) {
	m, err := toMap(obj)
	if err != nil {
		return nil, err
	}
	delete(m, "status")
	pruneNulls(m)
	return m, nil
}

func toMap(obj any) (map[string]any, error) {
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("encode %T: %w", obj, err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("decode %T: %w", obj, err)
	}
	return m, nil
}

// withoutType is m without apiVersion and kind, which objects read from the
// cache do not carry.
func withoutType(m map[string]any) map[string]any {
	c := make(map[string]any, len(m))
	for k, v := range m {
		if k != "apiVersion" && k != "kind" {
			c[k] = v
		}
	}
	return c
}

// pruneNulls removes null values from maps, recursively.
func pruneNulls(v any) {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			if e == nil {
				delete(t, k)
				continue
			}
			pruneNulls(e)
		}
	case []any:
		for _, e := range t {
			pruneNulls(e)
		}
	}
}

// contains reports whether have holds every field of want with the same
// value: maps may have more keys, lists must have want's elements at the
// same positions (and may be longer). A value the API server normalised
// counts as a difference; the apply that follows is then a no-op.
func contains(have, want any) bool {
	switch w := want.(type) {
	case map[string]any:
		h, ok := have.(map[string]any)
		if !ok {
			return have == nil && len(w) == 0 // an empty struct sets nothing
		}
		for k, wv := range w {
			if !contains(h[k], wv) {
				return false
			}
		}
		return true
	case []any:
		h, ok := have.([]any)
		if !ok || len(h) < len(w) {
			return false
		}
		for i := range w {
			if !contains(h[i], w[i]) {
				return false
			}
		}
		return true
	default:
		return reflect.DeepEqual(have, want)
	}
}
