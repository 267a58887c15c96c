package cluster

import (
	"time"

	"github.com/carriermq/carrier/queue"
)

// warnDrops logs, once per queue and process, the first time a queue's
// limit drops messages nobody consumed: with discard "old" (the default, and
// what an auto-created queue gets) a producer that writes more than the
// limit loses its oldest confirmed messages without an error, and this line
// is where an operator learns of it. Queue info counts every drop
// ("dropped"). mu must be held for writing.
func (f *fsm) warnDrops(events []queue.Event) {
	for i := range events {
		ev := &events[i]
		switch ev.Kind {
		case queue.EventQueueDeleted:
			delete(f.dropWarned, ev.Queue)
		case queue.EventLimitDropped:
			if f.dropWarned[ev.Queue] {
				continue
			}
			if f.dropWarned == nil {
				f.dropWarned = map[string]bool{}
			}
			f.dropWarned[ev.Queue] = true
			f.warnDrop(ev)
		}
	}
}

func (f *fsm) warnDrop(ev *queue.Event) {
	info, err := f.state.Queue(ev.Queue)
	if err != nil {
		return
	}
	c := info.Config
	f.log.Warn("a queue's limit dropped its oldest messages; it goes on doing so without another log line (queue info counts them as dropped): raise the limit, or set discard to new to refuse publishes instead",
		"queue", ev.Queue, "dropped", ev.Count, "throughSeq", ev.Seq, "discard", c.Discard,
		"maxMessages", c.MaxMessages, "maxBytes", c.MaxBytes, "maxAge", time.Duration(c.MaxAge))
}
