package gateway

import (
	"net/http"
	"slices"
	"strings"

	"github.com/carriermq/carrier/gateway/apierr"
	"github.com/carriermq/carrier/protocol"
)

// route is one endpoint of the API.
type route struct {
	method  string
	pattern string
	handle  http.HandlerFunc
}

// routes is the whole API in one place (docs/http-api.md, docs/protocol.md).
func (g *Gateway) routes() []route {
	return []route{
		{http.MethodGet, "/healthz", g.handleHealthz},
		{http.MethodGet, "/readyz", g.handleReadyz},
		{http.MethodGet, "/metrics", g.handleMetrics},
		{http.MethodGet, "/v1/ws", g.handleWebSocket},
		{http.MethodGet, "/socket.io/", g.handleSocketIO},
		{http.MethodPost, "/socket.io/", g.handleSocketIO},
		{http.MethodGet, "/v1/cluster", g.handleCluster},
		{http.MethodPost, "/v1/cluster/members", g.handleAddMember},
		{http.MethodPost, "/v1/cluster/members/{id}/remove", g.handleRemoveMember},
		{http.MethodGet, "/v1/cluster/members/{id}/safe-to-stop", g.handleSafeToStop},
		{http.MethodPost, "/v1/cluster/leader/transfer", g.handleTransferLeader},
		{http.MethodPost, "/v1/cluster/leave", g.handleLeave},
		{http.MethodGet, "/v1/queues", g.handleListQueues},
		{http.MethodGet, "/v1/queues/{queue}", g.handleQueueInfo},
		{http.MethodPut, "/v1/queues/{queue}", g.handleCreateQueue},
		{http.MethodPatch, "/v1/queues/{queue}", g.handleUpdateQueue},
		{http.MethodDelete, "/v1/queues/{queue}", g.handleDeleteQueue},
		{http.MethodPost, "/v1/queues/{queue}/messages", g.handlePublish},
		{http.MethodGet, "/v1/queues/{queue}/messages", g.handleRead},
		{http.MethodPost, "/v1/queues/{queue}/purge", g.handlePurge},
		{http.MethodGet, "/v1/queues/{queue}/groups/{group}", g.handleGroupInfo},
		{http.MethodPut, "/v1/queues/{queue}/groups/{group}", g.handleCreateGroup},
		{http.MethodPatch, "/v1/queues/{queue}/groups/{group}", g.handleUpdateGroup},
		{http.MethodDelete, "/v1/queues/{queue}/groups/{group}", g.handleDeleteGroup},
		{http.MethodGet, "/v1/queues/{queue}/dlq", g.handleDeadLetters},
		{http.MethodPost, "/v1/queues/{queue}/dlq/redrive", g.handleRedrive},
	}
}

// buildMux registers one handler per path that dispatches on the method,
// so that a known path with another method answers 405 with an Allow
// header, and anything else answers 404, both as JSON errors.
func (g *Gateway) buildMux() *http.ServeMux {
	byPath := map[string]methods{}
	var order []string
	for _, rt := range g.routes() {
		if byPath[rt.pattern] == nil {
			byPath[rt.pattern] = methods{}
			order = append(order, rt.pattern)
		}
		byPath[rt.pattern][rt.method] = rt.handle
	}
	mux := http.NewServeMux()
	for _, p := range order {
		mux.Handle(p, byPath[p])
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, apierr.Errorf(protocol.CodeNotFound, "no route %s", r.URL.Path))
	})
	return mux
}

// methods dispatches one path on the request method. GET handlers also serve HEAD.
type methods map[string]http.HandlerFunc

func (m methods) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	method := r.Method
	if method == http.MethodHead {
		method = http.MethodGet
	}
	if h, ok := m[method]; ok {
		h(w, r)
		return
	}
	allow := make([]string, 0, len(m))
	for k := range m {
		allow = append(allow, k)
	}
	slices.Sort(allow)
	w.Header().Set("Allow", strings.Join(allow, ", "))
	writeError(w, apierr.Errorf(protocol.CodeMethodNotAllowed, "%s is not allowed here (allowed: %s)", r.Method, strings.Join(allow, ", ")))
}
