// Package js_test runs the JS/TS client's tests (clients/js, `npm test`)
// from `go test ./...`, and checks the client's copy of the error code
// catalogue against protocol.Codes.
package js_test

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/carriermq/carrier/protocol"
	"github.com/carriermq/carrier/test/npmtest"
)

// TestNPM runs `npm ci` and `npm test` in clients/js against a carrier
// binary built from this tree (see npmtest.Run).
func TestNPM(t *testing.T) {
	npmtest.Run(t, "the JS client's tests (clients/js)", "../..", 5*time.Minute)
}

// TestErrorCodes checks src/errors.ts's serverCodes against the catalogue:
// the same codes, in the same order, with the same retry column.
func TestErrorCodes(t *testing.T) {
	src, err := os.ReadFile("src/errors.ts")
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile(`(?s)export const serverCodes = \{(.*?)\} as const`).FindSubmatch(src)
	if block == nil {
		t.Fatal("src/errors.ts: no serverCodes object")
	}
	var got []string
	for _, m := range regexp.MustCompile(`(\w+): "(\w+)"`).FindAllSubmatch(block[1], -1) {
		got = append(got, string(m[1])+" "+string(m[2]))
	}
	word := map[protocol.Retry]string{protocol.RetryNo: "no", protocol.RetryYes: "yes", protocol.RetryLater: "later"}
	var want []string
	for _, c := range protocol.Codes {
		want = append(want, c.Code+" "+word[c.Retry])
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("serverCodes in src/errors.ts:\n%s\nwant (protocol.Codes):\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
