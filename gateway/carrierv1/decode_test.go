package carrierv1

import (
	"strings"
	"testing"

	"github.com/carriermq/carrier/gateway/session"
	"github.com/carriermq/carrier/protocol"
	"github.com/carriermq/carrier/queue"
)

// decodeCodes are the codes decodeFrame may return (docs/protocol.md).
var decodeCodes = map[string]bool{
	protocol.CodeBadFrame:        true,
	protocol.CodeUnknownType:     true,
	protocol.CodeBadRequest:      true,
	protocol.CodeBadName:         true,
	protocol.CodeMessageTooLarge: true,
}

var fuzzLimits = session.Limits{MaxMessageBytes: 1 << 10, MaxBatch: 10}

// FuzzDecodeFrame: decoding never panics; a failure has a documented code
// and a message; a success is a request type with its invariants.
func FuzzDecodeFrame(f *testing.F) {
	f.Add([]byte(`{"type":"ping","id":"1"}`))
	f.Add([]byte(`{"type":"publish","queue":"q","data":{"a":1}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := decodeFrame(b, fuzzLimits)
		if err != nil {
			if !decodeCodes[err.Code] || err.Message == "" {
				t.Fatalf("undocumented failure %+v for %q", err, b)
			}
			return
		}
		checkRequest(t, req)
	})
}

// checkRequest asserts what a decoded request promises its handler.
func checkRequest(t *testing.T, req *request) {
	t.Helper()
	switch req.Type {
	case protocol.TypePing:
	case protocol.TypePublish:
		if len(req.publish.Msgs) == 0 || len(req.publish.Msgs) > fuzzLimits.MaxBatch || queue.ValidateName(req.Queue) != nil {
			t.Fatalf("publish accepted with %d messages to %q", len(req.publish.Msgs), req.Queue)
		}
		for _, m := range req.publish.Msgs {
			if m.Size() > fuzzLimits.MaxMessageBytes {
				t.Fatalf("message of %d bytes accepted", m.Size())
			}
		}
	case protocol.TypeSubscribe:
		if queue.ValidateName(req.Queue) != nil || (req.Group != "" && queue.ValidateName(req.Group) != nil) {
			t.Fatalf("subscribe accepted to %q/%q", req.Queue, req.Group)
		}
	case protocol.TypeUnsubscribe:
		if req.Sub == "" {
			t.Fatal("unsubscribe without sub accepted")
		}
	case protocol.TypeAck, protocol.TypeNack:
		if req.Sub == "" || len(req.ack.Seqs) == 0 || len(req.ack.Seqs) > session.MaxAckSeqs || req.ack.Delay < 0 {
			t.Fatalf("ack accepted: %+v", req)
		}
	default:
		t.Fatalf("type %q accepted", req.Type)
	}
}

func TestDecodeFrame(t *testing.T) {
	cases := []struct {
		name, frame, code string
	}{
		{"ping", `{"type":"ping"}`, ""},
		{"publish inline", `{"type":"publish","queue":"q","msgId":"m","event":"e","data":[1,2],"headers":{"traceparent":"x"},"deliverAt":"2030-01-02T03:04:05Z"}`, ""},
		{"publish binary", `{"type":"publish","queue":"q","binary":"AAEC"}`, ""},
		{"publish batch", `{"type":"publish","queue":"q","messages":[{"data":1},{"binary":"AA=="}]}`, ""},
		{"batch and inline", `{"type":"publish","queue":"q","event":"e","messages":[{"data":1}]}`, protocol.CodeBadRequest},
		{"batch too long", `{"type":"publish","queue":"q","messages":[` + strings.Repeat(`{},`, 10) + `{}]}`, protocol.CodeBadRequest},
		{"tail from seq", `{"type":"subscribe","queue":"q","fromSeq":5}`, ""},
		{"tail from and seq", `{"type":"subscribe","queue":"q","from":"first","fromSeq":5}`, protocol.CodeBadRequest},
		{"group", `{"type":"subscribe","queue":"q","group":"g","ackWait":"1s","maxDeliver":2,"maxInFlight":1,"from":"first"}`, ""},
		{"negative maxInFlight", `{"type":"subscribe","queue":"q","group":"g","maxInFlight":-1}`, protocol.CodeBadRequest},
		{"nack delay", `{"type":"nack","sub":"1","seqs":[1,2],"delay":"5s"}`, ""},
		{"ack with delay", `{"type":"ack","sub":"1","seq":1,"delay":"5s"}`, protocol.CodeBadRequest},
		{"ack seq 0", `{"type":"ack","sub":"1","seqs":[0]}`, protocol.CodeBadRequest},
		{"negative delay", `{"type":"nack","sub":"1","seq":1,"delay":"-1s"}`, protocol.CodeBadRequest},
		{"long id", `{"type":"ping","id":"` + strings.Repeat("i", 300) + `"}`, protocol.CodeBadRequest},
		{"trailing garbage", `{"type":"ping"} x`, protocol.CodeBadFrame},
		{"empty", ``, protocol.CodeBadFrame},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := decodeFrame([]byte(tc.frame), fuzzLimits)
			switch {
			case tc.code == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tc.code != "" && (err == nil || err.Code != tc.code):
				t.Fatalf("got %v, want %s", err, tc.code)
			case err == nil:
				checkRequest(t, req)
			}
		})
	}
}

func TestDecodePublishFields(t *testing.T) {
	req, err := decodeFrame([]byte(`{"type":"publish","queue":"q","msgId":"m1","event":"e","binary":"AAEC","deliverAt":"2030-01-02T03:04:05Z"}`), fuzzLimits)
	if err != nil {
		t.Fatal(err)
	}
	m := req.publish.Msgs[0]
	if m.ID != "m1" || m.Event != "e" || !m.Binary || string(m.Data) != "\x00\x01\x02" || m.DeliverAt != 1893553445000000000 {
		t.Fatalf("message %+v", m)
	}
	req, err = decodeFrame([]byte(`{"type":"subscribe","queue":"q","group":"g","ackWait":"300ms","maxDeliver":2,"fromSeq":7}`), fuzzLimits)
	if err != nil {
		t.Fatal(err)
	}
	want := queue.GroupConfig{AckWait: 300e6, MaxDeliver: 2, Start: queue.Position{Kind: queue.FromSeq, Seq: 7}}
	if req.subscribe.Config != want {
		t.Fatalf("group config %+v, want %+v", req.subscribe.Config, want)
	}
}
