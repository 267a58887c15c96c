package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"unicode/utf8"

	"github.com/carriermq/carrier/gateway/apierr"
	"github.com/carriermq/carrier/gateway/carrierv1"
	"github.com/carriermq/carrier/gateway/session"
	"github.com/carriermq/carrier/protocol"
	"github.com/carriermq/carrier/queue"
)

// Largest body of an admin request (configs, redrive lists).
const maxAdminBody = 1 << 20

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // the client went away; nothing else to do
}

// writeError answers with {"error": {...}} and the code's HTTP status.
func writeError(w http.ResponseWriter, e *apierr.Error) {
	writeJSON(w, httpStatus(e.Code), protocol.ErrorResponse{Error: protocol.ErrorBody{Code: e.Code, Message: e.Message}})
}

// readBody decodes a JSON object body of at most limit bytes into v. An
// empty body leaves v as it is when allowEmpty.
func readBody(w http.ResponseWriter, r *http.Request, limit int64, allowEmpty bool, v any) *apierr.Error {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return apierr.Errorf(protocol.CodeBodyTooLarge, "the body is limited to %d bytes", limit)
	case err != nil:
		return apierr.Errorf(protocol.CodeBadRequest, "reading the body: %v", err)
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 && allowEmpty {
		return nil
	}
	if !utf8.Valid(b) || len(b) == 0 || b[0] != '{' {
		return apierr.Errorf(protocol.CodeBadRequest, "the body must be a JSON object in UTF-8")
	}
	if err := json.Unmarshal(b, v); err != nil {
		return apierr.Errorf(protocol.CodeBadRequest, "invalid JSON body: %v", err)
	}
	return nil
}

// pathQueue reads and checks the {queue} path value.
func pathQueue(r *http.Request) (string, *apierr.Error) {
	name := r.PathValue("queue")
	return name, session.CheckName("queue", name)
}

// queryUint reads an optional unsigned query parameter.
func queryUint(r *http.Request, key string, def uint64) (uint64, *apierr.Error) {
	s := r.URL.Query().Get(key)
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, apierr.Errorf(protocol.CodeBadRequest, "%s must be an unsigned integer", key)
	}
	return n, nil
}

// queryLimit reads "limit": 1 to 1000, default 100.
func queryLimit(r *http.Request) (int, *apierr.Error) {
	n, err := queryUint(r, "limit", 100)
	if err != nil || n < 1 || n > 1000 {
		return 0, apierr.Errorf(protocol.CodeBadRequest, "limit must be 1 to 1000")
	}
	return int(n), nil
}

func (g *Gateway) handleHealthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, protocol.StatusResponse{Status: "ok"})
}

func (g *Gateway) handleReadyz(w http.ResponseWriter, _ *http.Request) {
	if err := g.b.Ready(); err != nil {
		writeError(w, apierr.Errorf(protocol.CodeUnavailable, "not ready: %v", err))
		return
	}
	writeJSON(w, http.StatusOK, protocol.StatusResponse{Status: "ready"})
}

func (g *Gateway) handleCluster(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, statusToWire(g.b.Status()))
}

// handlePublish serves POST /v1/queues/{queue}/messages.
func (g *Gateway) handlePublish(w http.ResponseWriter, r *http.Request) {
	name, werr := pathQueue(r)
	if werr != nil {
		writeError(w, werr)
		return
	}
	var body protocol.PublishRequest
	if werr := readBody(w, r, g.cfg.MaxFrameBytes, false, &body); werr != nil {
		writeError(w, werr)
		return
	}
	msgs, batch, werr := carrierv1.Messages(body.Message, body.Messages, g.cfg.limits())
	if werr != nil {
		writeError(w, werr)
		return
	}
	acks, err := g.publish(r.Context(), name, msgs)
	switch {
	case err != nil:
		writeError(w, apierr.From(err))
	case !batch && acks[0].Err != nil:
		writeError(w, apierr.From(acks[0].Err))
	case !batch:
		writeJSON(w, http.StatusOK, carrierv1.Published(acks[0]))
	default:
		writeJSON(w, http.StatusOK, protocol.PublishResponse{Results: carrierv1.Results(acks)})
	}
}

// handleRead serves GET /v1/queues/{queue}/messages?from=&fromTime=&limit=.
func (g *Gateway) handleRead(w http.ResponseWriter, r *http.Request) {
	name, werr := pathQueue(r)
	if werr == nil {
		var limit int
		if limit, werr = queryLimit(r); werr == nil {
			var pos queue.Position
			if pos, werr = readPosition(r); werr == nil {
				g.serveRead(w, name, pos, limit)
				return
			}
		}
	}
	writeError(w, werr)
}

// readPosition reads "from" (a seq or "first", the default) or "fromTime".
func readPosition(r *http.Request) (queue.Position, *apierr.Error) {
	q := r.URL.Query()
	f := protocol.Frame{FromTime: q.Get("fromTime"), From: q.Get("from")}
	if f.From == "" && f.FromTime == "" {
		f.From = string(queue.FromFirst)
	}
	if n, err := strconv.ParseUint(f.From, 10, 64); err == nil && n > 0 {
		f.From, f.FromSeq = "", n
	}
	return carrierv1.Position(&f)
}

func (g *Gateway) serveRead(w http.ResponseWriter, name string, pos queue.Position, limit int) {
	var msgs []*queue.Message
	var from uint64
	var err error
	g.b.View(func(s *queue.State) {
		if from, err = s.StartSeq(name, pos); err == nil {
			msgs, err = s.Read(name, from, limit)
		}
	})
	if err != nil {
		writeError(w, apierr.From(err))
		return
	}
	list := protocol.MessageList{Messages: make([]protocol.Message, len(msgs)), Next: from}
	for i, m := range msgs {
		list.Messages[i] = messageToWire(m)
		list.Next = m.Seq + 1
	}
	writeJSON(w, http.StatusOK, list)
}
