package dataplane

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/carriermq/carrier/client"
)

// Timeouts of the operator's calls. A node that does not answer must not
// hold a reconcile for long: the status refresh comes back soon anyway.
const (
	callTimeout  = 5 * time.Second
	probeTimeout = 2 * time.Second
)

// Unreachable is the error when no endpoint of a cluster answered at all
// (refused, reset, timed out, a name that does not resolve): the data plane
// is down or cut off, as opposed to a node that answered with an error.
type Unreachable struct {
	URLs []string
	Err  error // the last endpoint's
}

func (e *Unreachable) Error() string {
	return fmt.Sprintf("data plane unreachable at %v: %v", e.URLs, e.Err)
}

func (e *Unreachable) Unwrap() error { return e.Err }

// IsUnreachable reports whether err is (or wraps) an *Unreachable.
func IsUnreachable(err error) bool {
	var u *Unreachable
	return errors.As(err, &u)
}

// Client calls one cluster's admin API through its endpoints. Safe for
// concurrent use.
type Client struct {
	urls   []string
	admins []*client.Admin
	hc     *http.Client
}

// New returns a Client for urls; a nil hc uses one with a 5 s timeout.
func New(urls []string, hc *http.Client) (*Client, error) {
	if len(urls) == 0 {
		return nil, errors.New("dataplane: no endpoint")
	}
	if hc == nil {
		hc = &http.Client{Timeout: callTimeout}
	}
	c := &Client{urls: urls, hc: hc}
	for _, u := range urls {
		a, err := client.NewAdmin(u, hc)
		if err != nil {
			return nil, fmt.Errorf("dataplane: %w", err)
		}
		c.admins = append(c.admins, a)
	}
	return c, nil
}

// Do calls fn with each endpoint's Admin in turn until one answers: an
// answer (a result, or an error reply such as queue_not_found) ends it;
// a transport failure moves to the next endpoint. When none answered, the
// error is an *Unreachable.
func Do[T any](ctx context.Context, c *Client, fn func(*client.Admin) (T, error)) (T, error) {
	var zero T
	var last error
	for _, a := range c.admins {
		v, err := fn(a)
		if err == nil || answered(err) {
			return v, err
		}
		if ctx.Err() != nil {
			return zero, err
		}
		last = err
	}
	return zero, &Unreachable{URLs: c.urls, Err: last}
}

// answered reports whether err is a reply of the server rather than a
// failure to reach it.
func answered(err error) bool {
	var e *client.Error
	return errors.As(err, &e)
}

// Leader asks one member, at its advertised API URL, which node it
// follows (its own view, GET /v1/cluster); "" when it names none or does
// not answer.
func (c *Client) Leader(ctx context.Context, apiURL string) string {
	if apiURL == "" {
		return ""
	}
	a, err := client.NewAdmin(apiURL, c.hc)
	if err != nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	st, err := a.Cluster(ctx)
	if err != nil {
		return ""
	}
	return st.Leader
}

// Ready probes one member's /readyz at its advertised API URL.
func (c *Client) Ready(ctx context.Context, apiURL string) bool {
	if apiURL == "" {
		return false
	}
	a, err := client.NewAdmin(apiURL, c.hc)
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	return a.Ready(ctx) == nil
}
