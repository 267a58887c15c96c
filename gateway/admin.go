package gateway

import (
	"net/http"

	"github.com/carriermq/carrier/gateway/apierr"
	"github.com/carriermq/carrier/protocol"
	"github.com/carriermq/carrier/queue"
)

// Admin routes: queue create/update/info/purge/delete, groups, dead letters.

func (g *Gateway) handleListQueues(w http.ResponseWriter, _ *http.Request) {
	var infos []queue.QueueInfo
	g.b.View(func(s *queue.State) { infos = s.Queues() })
	list := protocol.QueueList{Queues: make([]protocol.QueueInfo, len(infos))}
	for i, q := range infos {
		list.Queues[i] = queueInfoToWire(q)
	}
	writeJSON(w, http.StatusOK, list)
}

func (g *Gateway) handleQueueInfo(w http.ResponseWriter, r *http.Request) {
	name, werr := pathQueue(r)
	if werr != nil {
		writeError(w, werr)
		return
	}
	var info queue.QueueInfo
	var err error
	g.b.View(func(s *queue.State) { info, err = s.Queue(name) })
	if err != nil {
		writeError(w, apierr.From(err))
		return
	}
	writeVersioned(w, info.ETag, queueInfoToWire(info))
}

// handleCreateQueue serves PUT /v1/queues/{queue}: create with the body's
// config (zero fields from the server's DefaultQueue, then the queue
// defaults). Repeating it with the same config succeeds.
func (g *Gateway) handleCreateQueue(w http.ResponseWriter, r *http.Request) {
	name, werr := pathQueue(r)
	var body protocol.QueueConfig
	if werr == nil {
		werr = readBody(w, r, maxAdminBody, true, &body)
	}
	var cfg queue.QueueConfig
	if werr == nil {
		cfg, werr = queueConfigFromWire(body)
	}
	if werr != nil {
		writeError(w, werr)
		return
	}
	cfg = cfg.WithDefaults(g.cfg.DefaultQueue)
	g.writeQueueResult(w, r, name, queue.CreateQueue{Name: name, Config: cfg, MaxQueues: g.cfg.MaxQueues})
}

// handleUpdateQueue serves PATCH /v1/queues/{queue}: the body's non-empty
// fields replace the current ones, conditioned on the version they were
// merged with (If-Match: the client's; see updateSettings).
func (g *Gateway) handleUpdateQueue(w http.ResponseWriter, r *http.Request) {
	name, werr := pathQueue(r)
	var patch protocol.QueueConfig
	if werr == nil {
		werr = readBody(w, r, maxAdminBody, false, &patch)
	}
	if werr != nil {
		writeError(w, werr)
		return
	}
	read := func(s *queue.State) (queue.Command, string, error) {
		info, err := s.Queue(name)
		if err != nil {
			return nil, "", err
		}
		cfg, werr := queueConfigFromWire(mergeConfig(queueConfigToWire(info.Config), patch))
		return queue.UpdateQueue{Name: name, Config: cfg}, info.ETag, orNil(werr)
	}
	res, err := g.updateSettings(r.Context(), "queue "+name, ifMatch(r), read)
	g.answerQueue(w, name, res, err)
}

// writeQueueResult proposes a queue command and answers with the queue's info.
func (g *Gateway) writeQueueResult(w http.ResponseWriter, r *http.Request, name string, cmd queue.Command) {
	res, err := g.propose(r.Context(), cmd)
	g.answerQueue(w, name, res, err)
}

// answerQueue answers with the queue's info after a command, with its version.
func (g *Gateway) answerQueue(w http.ResponseWriter, name string, res queue.Result, err error) {
	if err != nil {
		writeError(w, apierr.From(err))
		return
	}
	if res.Queue == nil {
		g.b.View(func(s *queue.State) {
			if info, err := s.Queue(name); err == nil {
				res.Queue = &info
			}
		})
	}
	if res.Queue == nil {
		writeError(w, apierr.Errorf(protocol.CodeInternal, "queue %s has no info after the change", name))
		return
	}
	writeVersioned(w, res.Queue.ETag, queueInfoToWire(*res.Queue))
}

func (g *Gateway) handleDeleteQueue(w http.ResponseWriter, r *http.Request) {
	name, werr := pathQueue(r)
	if werr != nil {
		writeError(w, werr)
		return
	}
	if _, err := g.propose(r.Context(), queue.DeleteQueue{Name: name}); err != nil {
		writeError(w, apierr.From(err))
		return
	}
	writeJSON(w, http.StatusOK, protocol.DeleteResponse{Deleted: name})
}

func (g *Gateway) handlePurge(w http.ResponseWriter, r *http.Request) {
	name, werr := pathQueue(r)
	if werr != nil {
		writeError(w, werr)
		return
	}
	res, err := g.propose(r.Context(), queue.PurgeQueue{Name: name})
	if err != nil {
		writeError(w, apierr.From(err))
		return
	}
	writeJSON(w, http.StatusOK, protocol.CountResponse{Purged: &res.Count})
}

// handleDeadLetters serves GET /v1/queues/{queue}/dlq?from=&limit=.
func (g *Gateway) handleDeadLetters(w http.ResponseWriter, r *http.Request) {
	name, werr := pathQueue(r)
	var from uint64
	var limit int
	if werr == nil {
		from, werr = queryUint(r, "from", 1)
	}
	if werr == nil {
		limit, werr = queryLimit(r)
	}
	if werr != nil {
		writeError(w, werr)
		return
	}
	var dls []queue.DeadLetter
	var err error
	g.b.View(func(s *queue.State) { dls, err = s.DeadLetters(name, from, limit) })
	if err != nil {
		writeError(w, apierr.From(err))
		return
	}
	list := protocol.DeadLetterList{DeadLetters: make([]protocol.DeadLetter, len(dls)), Next: from}
	for i, d := range dls {
		list.DeadLetters[i] = deadLetterToWire(d)
		list.Next = d.DLSeq + 1
	}
	writeJSON(w, http.StatusOK, list)
}

// handleRedrive serves POST /v1/queues/{queue}/dlq/redrive.
func (g *Gateway) handleRedrive(w http.ResponseWriter, r *http.Request) {
	name, werr := pathQueue(r)
	var body protocol.RedriveRequest
	if werr == nil {
		werr = readBody(w, r, maxAdminBody, true, &body)
	}
	if werr != nil {
		writeError(w, werr)
		return
	}
	res, err := g.propose(r.Context(), queue.Redrive{Queue: name, DLSeqs: body.DLSeqs})
	if err != nil {
		writeError(w, apierr.From(err))
		return
	}
	writeJSON(w, http.StatusOK, protocol.CountResponse{Redriven: &res.Count})
}
