package local

import "testing"

func TestParseNATSDrive(t *testing.T) {
	tests := []struct {
		in   string
		want NATSDrive
	}{
		{"", NATSMatched},
		{"matched", NATSMatched},
		{"best", NATSBest},
		{"msgid", NATSDrive{Placement: "spread", MsgID: true, Consume: "messages"}},
		{"placement=leader,consume=fetch", NATSDrive{Placement: "leader", Consume: "fetch", Batch: 100}},
		{"consume=consume,batch=50,ack-nowait", NATSDrive{Placement: "spread", Consume: "consume", Batch: 50, AckNoWait: true}},
	}
	for _, tt := range tests {
		got, err := ParseNATSDrive(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseNATSDrive(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
		if err == nil && tt.in != "" && tt.in != "matched" && tt.in != "best" {
			if again, err := ParseNATSDrive(got.String()); err != nil || again != got {
				t.Errorf("ParseNATSDrive(%q.String() = %q) = %+v, %v; want it back", tt.in, got.String(), again, err)
			}
		}
	}
	for _, bad := range []string{"placement=node0", "batch=0", "batch=x", "consume=push", "fast"} {
		if d, err := ParseNATSDrive(bad); err == nil {
			t.Errorf("ParseNATSDrive(%q) = %+v, want an error", bad, d)
		}
	}
}
