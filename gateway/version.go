package gateway

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/carriermq/carrier/gateway/apierr"
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

// allows reports whether the client's If-Match admits version.
func (p precondition) allows(version string) bool {
	return !p.explicit || slices.Contains(p.tags, version)
}

// noVersion is an IfMatch no settings have: a command conditioned on it is
// always refused, and changes nothing.
const noVersion = "none"

// updateSettings is a PATCH's read-modify-write. read builds the command
// from the applied state's current settings and returns their version;
// the command is proposed conditioned on that version, so the state
// machine refuses it if another update commits between the read and this
// one. Without the client's If-Match the gateway then reads again and
// retries, up to maxUpdateAttempts; with it the refusal is the answer.
//
// A version the client's If-Match does not name may only mean that this
// node has not applied the update the client read elsewhere (a follower a
// moment behind). Before answering precondition_failed the gateway proposes
// the command conditioned on noVersion, which the state machine refuses:
// once that returns, this node has applied everything committed before it,
// and a second read decides.
func (g *Gateway) updateSettings(ctx context.Context, what string, p precondition, read func(*queue.State) (queue.Command, string, error)) (queue.Result, error) {
	caughtUp := false
	for attempt := 1; ; attempt++ {
		var cmd queue.Command
		var version string
		var err error
		g.b.View(func(s *queue.State) { cmd, version, err = read(s) })
		switch {
		case err != nil:
			return queue.Result{}, err
		case !p.allows(version) && caughtUp:
			return queue.Result{}, apierr.Errorf(protocol.CodePreconditionFailed,
				"%s changed since it was read (version %q, If-Match %s): read it again and retry", what, version, p.header)
		case !p.allows(version):
			if _, err := g.propose(ctx, withIfMatch(cmd, noVersion)); queue.CodeOf(err) != queue.CodePreconditionFailed {
				return queue.Result{}, err
			}
			caughtUp = true
			continue
		}
		res, err := g.propose(ctx, withIfMatch(cmd, version))
		if p.explicit || attempt >= maxUpdateAttempts || queue.CodeOf(err) != queue.CodePreconditionFailed {
			return res, err
		}
		g.log.Debug("settings changed during a PATCH: reading them again", "what", what, "attempt", attempt)
	}
}

// withIfMatch is cmd (an UpdateQueue or an UpdateGroup) conditioned on version.
func withIfMatch(cmd queue.Command, version string) queue.Command {
	switch c := cmd.(type) {
	case queue.UpdateQueue:
		c.IfMatch = version
		return c
	case queue.UpdateGroup:
		c.IfMatch = version
		return c
	}
	return cmd
}

// orNil is e as an error: nil when e is nil (not a nil *apierr.Error).
func orNil(e *apierr.Error) error {
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
