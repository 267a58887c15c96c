package queue

import (
	"crypto/sha256"
	"encoding/hex"
)

// Settings versions (ETags). A queue's or group's ETag is a hash of its
// settings in their log encoding, so it depends on the settings alone: every
// replica computes the same one whatever history (log replay or snapshot)
// brought it there, and no version needs storing. An update that names the
// ETag it read (IfMatch) fails with CodePreconditionFailed when the settings
// changed meanwhile, which is what a read-modify-write needs to never lose a
// concurrent update. Settings changed and changed back give the old ETag
// again; the update then applies to exactly the settings its caller read.

// etagLen is the ETag's length in hex digits (64 bits of the hash).
const etagLen = 16

// ETag is the version of these queue settings (complete, defaults filled).
func (c QueueConfig) ETag() string {
	var e encoder
	e.queueConfig(c)
	return hashETag(e.buf)
}

// ETag is the version of these group settings (complete, defaults filled).
func (c GroupConfig) ETag() string {
	var e encoder
	e.groupConfig(c)
	return hashETag(e.buf)
}

func hashETag(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:etagLen/2])
}

// checkMatch refuses an update whose IfMatch is set and differs from the
// current ETag.
func checkMatch(what, ifMatch, current string) *Error {
	if ifMatch == "" || ifMatch == current {
		return nil
	}
	return Errorf(CodePreconditionFailed, "%s changed since it was read (version %s, the update expected %s): read it again and retry", what, current, ifMatch)
}
