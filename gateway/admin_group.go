package gateway

import (
	"net/http"

	"github.com/carriermq/carrier/gateway/apierr"
	"github.com/carriermq/carrier/gateway/session"
	"github.com/carriermq/carrier/protocol"
	"github.com/carriermq/carrier/queue"
)

// Consumer-group routes: create, info, update, delete.

// pathGroup reads and checks the {queue} and {group} path values.
func pathGroup(r *http.Request) (string, string, *apierr.Error) {
	name, werr := pathQueue(r)
	group := r.PathValue("group")
	if werr == nil {
		werr = session.CheckName("group", group)
	}
	return name, group, werr
}

func (g *Gateway) handleGroupInfo(w http.ResponseWriter, r *http.Request) {
	name, group, werr := pathGroup(r)
	if werr != nil {
		writeError(w, werr)
		return
	}
	g.writeGroupInfo(w, name, group)
}

// writeGroupInfo answers with a group's info as the node has applied it.
func (g *Gateway) writeGroupInfo(w http.ResponseWriter, name, group string) {
	var info queue.GroupInfo
	var err error
	g.b.View(func(s *queue.State) { info, err = s.Group(name, group) })
	if err != nil {
		writeError(w, apierr.From(err))
		return
	}
	writeVersioned(w, info.ETag, groupInfoToWire(info))
}

// handleCreateGroup serves PUT /v1/queues/{queue}/groups/{group}: create a
// group with the body's settings (zero fields from the queue's group
// defaults) before any member joins. Repeating it with the same settings
// succeeds; other settings fail with group_exists.
func (g *Gateway) handleCreateGroup(w http.ResponseWriter, r *http.Request) {
	name, group, werr := pathGroup(r)
	var body protocol.GroupConfig
	if werr == nil {
		werr = readBody(w, r, maxAdminBody, true, &body)
	}
	var cfg queue.GroupConfig
	if werr == nil {
		cfg, werr = groupConfigFromWire(body)
	}
	if werr != nil {
		writeError(w, werr)
		return
	}
	if _, err := g.propose(r.Context(), queue.CreateGroup{Queue: name, Group: group, Config: cfg}); err != nil {
		writeError(w, apierr.From(err))
		return
	}
	g.writeGroupInfo(w, name, group)
}

// handleUpdateGroup serves PATCH /v1/queues/{queue}/groups/{group}: the
// body's non-empty fields replace the group's settings in place (members,
// pending and unacked messages stay), conditioned like a queue's PATCH. A
// start other than the group's is refused by the state machine.
func (g *Gateway) handleUpdateGroup(w http.ResponseWriter, r *http.Request) {
	name, group, werr := pathGroup(r)
	var patch protocol.GroupConfig
	if werr == nil {
		werr = readBody(w, r, maxAdminBody, false, &patch)
	}
	if werr != nil {
		writeError(w, werr)
		return
	}
	read := func(s *queue.State) (queue.Command, string, error) {
		info, err := s.Group(name, group)
		if err != nil {
			return nil, "", err
		}
		cfg, werr := groupConfigFromWire(mergeGroupConfig(groupConfigToWire(info.Config), patch))
		return queue.UpdateGroup{Queue: name, Group: group, Config: cfg}, info.ETag, orNil(werr)
	}
	if _, err := g.updateSettings(r.Context(), "group "+group, ifMatch(r), read); err != nil {
		writeError(w, apierr.From(err))
		return
	}
	g.writeGroupInfo(w, name, group)
}

// handleDeleteGroup serves DELETE /v1/queues/{queue}/groups/{group}. Live
// members are re-joined by their gateways, which creates the group again
// with the queue's defaults.
func (g *Gateway) handleDeleteGroup(w http.ResponseWriter, r *http.Request) {
	name, group, werr := pathGroup(r)
	if werr != nil {
		writeError(w, werr)
		return
	}
	if _, err := g.propose(r.Context(), queue.DeleteGroup{Queue: name, Group: group}); err != nil {
		writeError(w, apierr.From(err))
		return
	}
	writeJSON(w, http.StatusOK, protocol.DeleteResponse{Deleted: group})
}
