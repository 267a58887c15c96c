package build

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// PodTemplateHash is a hash of the rendered pod template, without its own
// hash annotation. It depends only on the template's content: encoding/json
// writes map keys in sorted order, so Go's map order does not reach it. The
// controllers compare it with the live StatefulSet's annotation, never the
// objects themselves (the API server adds defaults to what it stores).
func PodTemplateHash(t *corev1.PodTemplateSpec) string {
	c := t.DeepCopy()
	delete(c.Annotations, TemplateHashAnnotation)
	return hashOf(c)
}

// hashOf is the first 16 hex digits of the SHA-256 of v's JSON.
func hashOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		// Only a type JSON cannot encode (a channel, a func) fails: a bug here.
		panic(fmt.Sprintf("build: hashing %T: %v", v, err))
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}
