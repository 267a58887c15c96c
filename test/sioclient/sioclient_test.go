// Package sioclient_test runs the Node programs of this directory — the
// real socket.io-client, and the reference socket.io server beside
// Carrier — against carrier serve built from this tree, from `go test`.
package sioclient_test

import (
	"testing"
	"time"

	"github.com/carriermq/carrier/test/npmtest"
)

// TestSocketIOClient runs `npm ci` and `npm test` here (see npmtest.Run).
func TestSocketIOClient(t *testing.T) {
	npmtest.Run(t, "the socket.io client tests (test/sioclient)", "../..", 8*time.Minute)
}
