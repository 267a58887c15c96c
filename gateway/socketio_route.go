package gateway

import (
	"fmt"
	"net/http"
	"time"

	"github.com/carriermq/carrier/gateway/sioroute"
)

// forwardSlack is what a forwarded poll may take beyond the owner's
// pingInterval + pingTimeout (the owner's own time to answer).
const forwardSlack = 15 * time.Second

// sidMaker returns the Engine.IO sid generator of node: sids that carry
// the node's id, so that any node can send a session's requests to it
// (gateway/sioroute). It fails for a node id a sid cannot carry.
func sidMaker(node string) (func() (string, error), error) {
	if _, err := sioroute.NewSID(node); err != nil {
		return nil, fmt.Errorf("socket.io session ids: node id %q: %w", node, err)
	}
	return func() (string, error) { return sioroute.NewSID(node) }, nil
}

// startSocketIO builds the socket.io endpoint: the Engine.IO server, with
// sids of this node unless the config brings its own generator, behind the
// sid router (g.sio, which handleSocketIO serves).
func (g *Gateway) startSocketIO() error {
	if g.cfg.SocketIO.NewSID == nil {
		newSID, err := sidMaker(g.b.ID())
		if err != nil {
			return err
		}
		g.cfg.SocketIO.NewSID = newSID
	}
	g.eio = g.newEngineIO()
	var err error
	g.sio, err = g.newSocketIORouter(g.eio)
	return err
}

// newSocketIORouter puts the sid router in front of the Engine.IO server:
// a request for a session of another node is forwarded there, one of a
// node that is gone is an unknown session; the rest is eio's. The peers'
// API addresses come from the backend's gossip (ClusterAdmin); a backend
// without it has no peers.
func (g *Gateway) newSocketIORouter(eio http.Handler) (*sioroute.Router, error) {
	sc := g.cfg.SocketIO
	cfg := sioroute.DefaultConfig()
	cfg.Node, cfg.Logger = g.b.ID(), g.log
	cfg.Timeout = sc.PingInterval + sc.PingTimeout + forwardSlack
	cfg.MaxBodyBytes, cfg.MaxForwards = sc.MaxPayload, g.cfg.MaxConnections
	if ca, ok := g.b.(ClusterAdmin); ok {
		cfg.Peers = ca
	}
	return sioroute.New(eio, cfg)
}
