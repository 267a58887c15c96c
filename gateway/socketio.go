package gateway

import (
	"net/http"
	"time"

	"github.com/carriermq/carrier/gateway/apierr"
	"github.com/carriermq/carrier/gateway/engineio"
	"github.com/carriermq/carrier/gateway/socketio"
)

// newEngineIO builds the socket.io endpoint: Engine.IO sessions, each a
// session of the shared Manager (the same admission and limits as /v1/ws)
// with its own Socket.IO codec.
func (g *Gateway) newEngineIO() *engineio.Server {
	sc := g.cfg.SocketIO
	codec := socketio.Config{DefaultQueue: sc.DefaultQueue, Limits: g.cfg.limits(),
		MaxAttachmentBytes: g.cfg.MaxMessageBytes}
	return engineio.New(engineio.Config{
		PingInterval: sc.PingInterval, PingTimeout: sc.PingTimeout, MaxPayload: sc.MaxPayload,
		MaxSessions: sc.MaxSessions, UpgradeTimeout: 10 * time.Second, WriteTimeout: g.cfg.WriteTimeout,
		NewSID: sc.NewSID, Logger: g.log,
		Open: func() (engineio.Session, *apierr.Error) {
			s, e := g.sessions.Open(socketio.New(codec))
			if e != nil {
				return nil, e
			}
			s.SetPingInterval(sc.PingInterval)
			s.SetMaxFrameBytes(sc.MaxPayload)
			return s, nil
		},
	})
}

// handleSocketIO serves /socket.io/: the Engine.IO handshake, polls, posts
// and WebSocket upgrades, through the sid router (socketio_route.go).
func (g *Gateway) handleSocketIO(w http.ResponseWriter, r *http.Request) {
	g.sio.ServeHTTP(w, r)
}
