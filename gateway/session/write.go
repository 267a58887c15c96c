package session

import (
	"errors"
	"time"
)

// startWriter starts the writer goroutine. The outbound queue calls it
// (with its lock held) when work arrives and no writer runs: an idle
// session has no writer goroutine, only its reader.
func (s *Session) startWriter() {
	s.writers.Add(1)
	go s.writeLoop()
}

// writeLoop writes queued items in batches, and the ping when one is due,
// until the queue is empty; a write error or the close ends it for good
// (the queue then starts no other writer).
func (s *Session) writeLoop() {
	defer s.writers.Done()
	var batch []item
	for {
		var ping, ok bool
		batch, ping, ok = s.out.take(batch[:0])
		if !ok {
			return
		}
		if ping {
			if err := s.t.Ping(s.writeDeadline()); err != nil {
				s.abort()
				return
			}
			s.pingTimer.Reset(s.pingEvery)
		}
		closing, err := s.writeBatch(batch)
		clear(batch)
		if err != nil {
			s.logger().Debug("session write failed", "err", err)
			s.abort()
			return
		}
		if closing {
			s.awaitClose()
			return
		}
	}
}

func (s *Session) writeDeadline() time.Time { return time.Now().Add(s.m.cfg.WriteTimeout) }

// writeBatch writes items as one flush; closing is true once the close is
// written (later items are dropped).
func (s *Session) writeBatch(items []item) (closing bool, err error) {
	if len(items) == 0 {
		return false, nil
	}
	s.t.Begin()
	var n int64
	for i := range items {
		n += items[i].size
		if items[i].close != 0 {
			err = s.t.WriteClose(items[i].close, s.writeDeadline())
			closing = true
			break
		}
		if err = s.encode(&items[i]); err != nil {
			break
		}
	}
	ferr := s.t.Flush(s.writeDeadline())
	s.out.release(n)
	if err == nil && ferr == nil {
		s.autoAcks(items)
	}
	return closing, errors.Join(err, ferr)
}

// encode has the codec write one item's frames (deliveries are encoded
// here, off the node's apply goroutine).
func (s *Session) encode(it *item) error {
	if it.skip {
		return nil
	}
	if it.msg != nil {
		return s.codec.EncodeDelivery(s.t, it.msg)
	}
	return s.codec.EncodeReply(s.t, it.reply)
}

// awaitClose gives the client CloseGrace to answer the close, then aborts
// the transport (which ends the reader).
func (s *Session) awaitClose() {
	t := time.NewTimer(s.m.cfg.CloseGrace)
	defer t.Stop()
	select {
	case <-s.readerDone:
	case <-t.C:
	}
	s.abort()
}

// abort cuts the session: commands are cancelled and the reader fails.
func (s *Session) abort() {
	s.cancel()
	s.t.Abort()
}
