package carrierv1

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/carriermq/carrier/gateway/session"
	"github.com/carriermq/carrier/queue"
)

// TestTailFrameMatchesFull: a tail delivery through the shared cache is
// byte-for-byte its full encoding, for every kind of message, on a hit
// and on a miss, and group deliveries are left to the full encoding.
func TestTailFrameMatchesFull(t *testing.T) {
	now := time.Date(2026, 11, 22, 7, 0, 0, 123456789, time.UTC).UnixNano()
	msgs := []*queue.Message{
		{Seq: 1, ID: "a", Event: "e", Data: json.RawMessage(`{"x":[1,2,"<&>"]}`), Time: now},
		{Seq: 2, ID: "b", Binary: true, Data: bytes.Repeat([]byte{0, 0xff}, 600), Time: now},
		{Seq: 3, ID: "c\"é", Headers: map[string]string{"k": "v", "a": "<b>"}, DeliverAt: now + 1e9, Time: now},
		{Seq: 1 + msgCacheSlots, ID: "same slot as seq 1", Time: now},
		{Seq: 5},
	}
	var mc msgCache
	enc := encoders.Get().(*frameEncoder)
	full := encoders.Get().(*frameEncoder)
	for round := range 2 { // miss, then hit
		for _, m := range msgs {
			for _, sub := range []string{"1", "27"} {
				d := &session.Delivery{Msg: m, Sub: sub, Queue: "q"}
				got, err := enc.encodeMsg(&mc, d)
				if err != nil {
					t.Fatal(err)
				}
				want, err := full.encode(messageFrame(d))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("round %d seq %d sub %s:\ncached %s\nfull   %s", round, m.Seq, sub, got, want)
				}
			}
		}
	}
	if _, ok := mc.tailFrame(nil, enc, &session.Delivery{Msg: msgs[0], Sub: "1", Queue: "q", Group: "g", Attempt: 1}); ok {
		t.Fatal("a group delivery went through the tail cache")
	}
}
