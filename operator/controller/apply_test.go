package controller

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestApplyContentDropsStatusAndNulls(t *testing.T) {
	svc := &corev1.Service{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "n"}, Spec: corev1.ServiceSpec{ClusterIP: "None"}}
	m, err := applyContent(svc)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m["status"]; ok {
		t.Error("status kept")
	}
	meta := m["metadata"].(map[string]any)
	if _, ok := meta["creationTimestamp"]; ok {
		t.Errorf("metadata %v: a null creationTimestamp would be applied", meta)
	}
	if m["kind"] != "Service" || m["spec"].(map[string]any)["clusterIP"] != "None" {
		t.Errorf("content %v", m)
	}
}

func TestContains(t *testing.T) {
	have := map[string]any{"a": 1.0, "b": map[string]any{"c": "x", "d": "y"}, "l": []any{"p", "q"}}
	for _, c := range []struct {
		want any
		ok   bool
	}{
		{map[string]any{"a": 1.0}, true},
		{map[string]any{"b": map[string]any{"c": "x"}}, true},  // more keys live: a user's or a default
		{map[string]any{"l": []any{"p"}}, true},                // a longer live list
		{map[string]any{"a": 2.0}, false},                      // a value of ours changed
		{map[string]any{"b": map[string]any{"e": "z"}}, false}, // a key of ours missing
		{map[string]any{"l": []any{"q"}}, false},               // order matters
		{map[string]any{"empty": map[string]any{}}, true},      // an empty struct sets nothing
		{map[string]any{"l": []any{"p", "q", "r"}}, false},     // an element of ours missing
	} {
		if got := contains(have, c.want); got != c.ok {
			t.Errorf("contains(%v, %v) = %v, want %v", have, c.want, got, c.ok)
		}
	}
}
