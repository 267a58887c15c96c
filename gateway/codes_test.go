package gateway

import (
	"os"
	"strings"
	"testing"

	"github.com/carriermq/carrier/protocol"
	"github.com/carriermq/carrier/queue"
)

// allCodes is the whole error catalogue: the gateway's and the state machine's.
var allCodes = []string{
	protocol.CodeBadFrame, protocol.CodeUnknownType, protocol.CodeBadRequest, protocol.CodeFrameTooLarge,
	protocol.CodeTooManySubs, protocol.CodeUnknownSub, protocol.CodeSlowConsumer, protocol.CodeTooManyConns,
	protocol.CodeNotLeader, protocol.CodeUnavailable, protocol.CodeUnknownOutcome, protocol.CodeTimeout,
	protocol.CodeNotFound, protocol.CodeMethodNotAllowed, protocol.CodeInternal, protocol.CodeBodyTooLarge,
	string(queue.CodeBadName), string(queue.CodeBadConfig), string(queue.CodeQueueNotFound),
	string(queue.CodeQueueExists), string(queue.CodeGroupNotFound), string(queue.CodeQueueFull),
	string(queue.CodeMessageTooBig), string(queue.CodeNotPending), string(queue.CodeNotMember),
	string(queue.CodeTooManyQueues), string(queue.CodeBadCommand), string(queue.CodeGroupExists),
	string(queue.CodeTooManyGroups), string(queue.CodeTooManyMembers),
}

// Every code has a row in docs/protocol.md's table and an HTTP status.
func TestEveryCodeIsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, code := range allCodes {
		if !strings.Contains(string(doc), "| `"+code+"` |") {
			t.Errorf("code %s has no row in docs/protocol.md", code)
		}
		if _, ok := statusOf[code]; !ok {
			t.Errorf("code %s has no HTTP status", code)
		}
	}
}
