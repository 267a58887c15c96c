package gateway

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/carriermq/carrier/protocol"
	"github.com/carriermq/carrier/queue"
)

// Settings versions over HTTP: the ETag header of queue and group answers,
// If-Match on their PATCH, and the read-modify-write that never loses a
// concurrent update. The versions themselves are the state machine's
// (queue/etag.go): the same on every replica.

// maxUpdateAttempts bounds the reads of a PATCH without the client's
// If-Match that keeps losing the race with other updates of the same
// settings; after them it answers precondition_failed.
const maxUpdateAttempts = 8

// precondition is a request's If-Match (RFC 9110, section 13.1.1): none or
// "*" (any current version: the object must exist, which PATCH checks
// anyway), or a list of entity tags compared strongly, so a weak tag
// (W/"…") never matches. A tag without its quotes is taken as if quoted.
type precondition struct {
	explicit bool     // a list of tags was sent
	tags     []string // its strong tags, without quotes
	header   string   // as sent, for the error message
}

// ifMatch reads the request's If-Match header.
func ifMatch(r *http.Request) precondition {
	p := precondition{header: strings.Join(r.Header.Values("If-Match"), ", ")}
	for t := range strings.SplitSeq(p.header, ",") {
		t = strings.TrimSpace(t)
		switch {
		case t == "*":
			return precondition{}
		case t == "" || strings.HasPrefix(t, "W/"):
		default:
			p.tags = append(p.tags, strings.Trim(t, `"`))
		}
	}
	p.explicit = strings.TrimSpace(p.header) != ""
	return p
}

// check refuses a current version the client's If-Match does not name.
func (p precondition) check(what, current string) error {
	if !p.explicit || slices.Contains(p.tags, current) {
		return nil
	}
	return errf(protocol.CodePreconditionFailed, "%s changed since it was read (version %q, If-Match %s): read it again and retry", what, current, p.header)
}

// updateSettings is a PATCH's read-modify-write. read builds the command
// from the applied state's current settings, conditioned on their version
// (its IfMatch), and returns that version, so the state machine refuses
// the command if another update commits between the read and this one.
// With the client's own If-Match that refusal is the answer; without, the
// gateway reads again and retries, up to maxUpdateAttempts.
func (g *Gateway) updateSettings(ctx context.Context, what string, p precondition, read func(*queue.State) (queue.Command, string, error)) (queue.Result, error) {
	for attempt := 1; ; attempt++ {
		var cmd queue.Command
		var version string
		var err error
		g.b.View(func(s *queue.State) { cmd, version, err = read(s) })
		if err == nil {
			err = p.check(what, version)
		}
		if err != nil {
			return queue.Result{}, err
		}
		res, err := g.propose(ctx, cmd)
		if p.explicit || attempt == maxUpdateAttempts || queue.CodeOf(err) != queue.CodePreconditionFailed {
			return res, err
		}
		g.log.Debug("settings changed during a PATCH: reading them again", "what", what, "attempt", attempt)
	}
}

// orNil is e as an error: nil when e is nil (not a nil *wireError).
func orNil(e *wireError) error {
	if e == nil {
		return nil
	}
	return e
}

// writeVersioned answers 200 with v and its version in the ETag header
// (spelled as RFC 9110 does, not as Go canonicalises it).
func writeVersioned(w http.ResponseWriter, etag string, v any) {
	w.Header()["ETag"] = []string{`"` + etag + `"`}
	writeJSON(w, http.StatusOK, v)
}
