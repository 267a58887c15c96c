package cluster

import "github.com/carriermq/carrier/queue"

// confirmEarly answers every publish of batch as confirmed, with seq 0, at
// once — before raft has committed (or even stored) the entry. It is the
// deliberately broken behaviour of a binary built with the build tag
// carrier_unsafe_early_confirm (unsafeEarlyConfirm), used only by the fault
// suite to show that its checker catches a server that confirms too early
// (test/fault). Answered proposals are marked early: complete and fail skip
// them, so each still gets exactly one outcome.
func confirmEarly(batch []*proposal) {
	for _, p := range batch {
		var pub queue.Publish
		switch c := p.cmd.(type) {
		case queue.Publish:
			pub = c
		case *queue.Publish:
			pub = *c
		default:
			continue
		}
		acks := make([]queue.PublishAck, len(pub.Messages))
		for i, m := range pub.Messages {
			acks[i] = queue.PublishAck{ID: m.ID}
		}
		p.early = true
		p.done <- outcome{res: queue.Result{Published: acks}}
	}
}
