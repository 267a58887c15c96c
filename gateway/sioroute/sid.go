// Package sioroute lets a socket.io client reach its Engine.IO session on
// whichever node of the cluster its requests land: the session id (sid)
// names the node that holds the session, and a Router in front of the
// /socket.io/ endpoint forwards a request for another node's session to
// that node, once, inside the cluster. A plain round-robin load balancer in
// front of the cluster then works without sticky sessions. See DESIGN.md.
package sioroute

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// Sid format: base64url(node id) "." base64url(randomBytes random bytes),
// both without padding. The alphabet of base64url and "." are unreserved
// URL characters, so a sid travels in a query string unescaped, and "."
// never occurs in base64url, so the last one splits the two parts.
const (
	// MaxNodeBytes is the longest node id a sid can carry.
	MaxNodeBytes = 128
	// randomBytes of crypto/rand make a sid unguessable (128 bits).
	randomBytes = 16
	sep         = "."
)

var (
	enc = base64.RawURLEncoding
	// randomLen is the encoded length of the random part.
	randomLen = enc.EncodedLen(randomBytes)
	// maxSIDLen bounds what NodeOf decodes: the longest sid NewSID makes.
	maxSIDLen = enc.EncodedLen(MaxNodeBytes) + len(sep) + randomLen
)

// ErrNodeID is returned by NewSID for a node id a sid cannot carry.
var ErrNodeID = errors.New("node id cannot be carried in a sid")

// NewSID returns a new session id that carries node (the cluster node id of
// the node that holds the session) and 128 random bits. It fails only for an
// empty node id, one longer than MaxNodeBytes, or when the system's random
// source fails. Safe for concurrent use.
func NewSID(node string) (string, error) {
	if node == "" || len(node) > MaxNodeBytes {
		return "", fmt.Errorf("%w: %d bytes, want 1 to %d", ErrNodeID, len(node), MaxNodeBytes)
	}
	var r [randomBytes]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", fmt.Errorf("new sid: %w", err)
	}
	return enc.EncodeToString([]byte(node)) + sep + enc.EncodeToString(r[:]), nil
}

// NodeOf returns the node id a sid made by NewSID carries. ok is false for
// anything NewSID cannot have made (a sid of another format, one too long,
// a node part that is not base64url, a random part of the wrong length): such
// a sid belongs to no node. It reads at most the first maxSIDLen bytes'
// worth and allocates only the node id. Safe for concurrent use.
func NodeOf(sid string) (node string, ok bool) {
	if len(sid) > maxSIDLen {
		return "", false
	}
	i := strings.LastIndex(sid, sep)
	if i <= 0 || len(sid)-i-len(sep) != randomLen || !isBase64URL(sid[i+len(sep):]) {
		return "", false
	}
	b, err := enc.DecodeString(sid[:i])
	if err != nil || len(b) == 0 {
		return "", false
	}
	return string(b), true
}

// isBase64URL reports whether s has only characters of the unpadded
// base64url alphabet.
func isBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
