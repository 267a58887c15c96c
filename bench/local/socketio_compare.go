package local

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/carriermq/carrier/bench"
)

// SocketIOCompareConfig sets up "carrier-bench socketio": Carrier over
// socket.io beside the reference socket.io server, alternating, a fresh
// server per session.
type SocketIOCompareConfig struct {
	Bin       string // the carrier binary
	Dir       string // refserver.mjs and its package.json ("": DefaultSocketIODir)
	Rounds    int    // rounds, the two systems alternating (default 3; quick: 1)
	Quick     bool   // a seconds-long smoke
	IdleConns int    // idle sockets for the memory reading (default 1000; quick: 20)
	Publish   bench.PublishConfig
	Fanout    bench.FanoutConfig
	Progress  io.Writer // progress lines (nil: none)
}

func (cfg SocketIOCompareConfig) withDefaults() SocketIOCompareConfig {
	if cfg.Quick {
		cfg.Rounds, cfg.IdleConns = orInt(cfg.Rounds, 1), orInt(cfg.IdleConns, 20)
		cfg.Publish.Duration = orInt(cfg.Publish.Duration, 500*time.Millisecond)
		cfg.Fanout.Duration = orInt(cfg.Fanout.Duration, 500*time.Millisecond)
		cfg.Fanout.Subscribers = orInt(cfg.Fanout.Subscribers, 4)
	}
	cfg.Rounds, cfg.IdleConns = orInt(cfg.Rounds, 3), orInt(cfg.IdleConns, 1000)
	cfg.Publish.Stream, cfg.Fanout.Stream = "bench-sio-publish", "bench-sio-fanout"
	cfg.Publish.Progress, cfg.Fanout.Progress = cfg.Progress, cfg.Progress
	return cfg
}

// SocketIOSession is one system's measurements on one fresh server.
type SocketIOSession struct {
	System  string              `json:"system"`
	Round   int                 `json:"round"`
	Idle    bench.ConnMemory    `json:"idleSockets"`
	Fanout  bench.FanoutResult  `json:"fanout"`
	Publish bench.PublishResult `json:"publish"`
	// CPUSeconds is the server processes' CPU over fanout and publish;
	// PeakRSS the largest process's peak resident memory.
	CPUSeconds float64 `json:"cpuSeconds"`
	PeakRSSMiB float64 `json:"peakRssMiB"`
}

// SocketIOSummary is one system's medians over the rounds.
type SocketIOSummary struct {
	System           string  `json:"system"`
	DeliveriesPerSec float64 `json:"fanoutDeliveriesPerSec"`
	PublishPerSec    float64 `json:"publishMsgsPerSec"`
	KiBPerSocket     float64 `json:"kibPerIdleSocket"`
	SocketsPerGiB    float64 `json:"idleSocketsPerGiB"`
	CPUSeconds       float64 `json:"cpuSeconds"`
	PeakRSSMiB       float64 `json:"peakRssMiB"`
}

// SocketIOComparison is the result of CompareSocketIO.
type SocketIOComparison struct {
	Subscribers int               `json:"fanoutSockets"`
	IdleConns   int               `json:"idleSockets"`
	Sessions    []SocketIOSession `json:"sessions"`
	Summary     []SocketIOSummary `json:"summary"`
}

// CompareSocketIO runs the rounds: in each, a fresh 3-node Carrier cluster
// driven over socket.io, then a fresh reference server (the order swaps
// every round), each measured for idle-socket memory, fan-out and publish.
func CompareSocketIO(ctx context.Context, cfg SocketIOCompareConfig) (SocketIOComparison, error) {
	cfg = cfg.withDefaults()
	res := SocketIOComparison{Subscribers: orInt(cfg.Fanout.Subscribers, 16), IdleConns: cfg.IdleConns}
	for round := 1; round <= cfg.Rounds; round++ {
		systems := []string{SysCarrierSocketIO, SysSocketIORef}
		if round%2 == 0 {
			slices.Reverse(systems)
		}
		for _, sys := range systems {
			s, err := socketIOSession(ctx, cfg, sys, round)
			if err != nil {
				return res, fmt.Errorf("round %d, %s: %w", round, sys, err)
			}
			res.Sessions = append(res.Sessions, s)
		}
	}
	for _, sys := range []string{SysCarrierSocketIO, SysSocketIORef} {
		res.Summary = append(res.Summary, summariseSocketIO(sys, res.Sessions))
	}
	return res, nil
}

// socketIOSession starts sys, measures it and stops it.
func socketIOSession(ctx context.Context, cfg SocketIOCompareConfig, sys string, round int) (SocketIOSession, error) {
	var t interface {
		bench.Target
		socketIOIdler
	}
	var err error
	if sys == SysCarrierSocketIO {
		t, err = StartCarrierSocketIO(ctx, cfg.Bin, "")
	} else {
		t, err = StartSocketIORef(ctx, cfg.Dir)
	}
	if err != nil {
		return SocketIOSession{}, err
	}
	defer t.Close()
	s := SocketIOSession{System: sys, Round: round}
	if s.Idle, err = IdleSocketIOMemory(ctx, t, cfg.IdleConns); err != nil {
		return s, err
	}
	cpu0, err := totalCPU(t.PIDs())
	if err != nil {
		return s, err
	}
	if s.Fanout, err = bench.RunFanout(ctx, t, cfg.Fanout); err != nil {
		return s, err
	}
	if s.Publish, err = bench.RunPublish(ctx, t, cfg.Publish); err != nil {
		return s, err
	}
	cpu1, err := totalCPU(t.PIDs())
	if err != nil {
		return s, err
	}
	_, peak, err := maxMemory(t.PIDs())
	s.CPUSeconds, s.PeakRSSMiB = cpu1-cpu0, float64(peak)/(1<<20)
	return s, err
}

// summariseSocketIO is sys's medians over its sessions.
func summariseSocketIO(sys string, sessions []SocketIOSession) SocketIOSummary {
	var fan, pub, kib, cpu, rss []float64
	for _, s := range sessions {
		if s.System != sys {
			continue
		}
		fan, pub = append(fan, s.Fanout.DeliveriesPerSec), append(pub, s.Publish.MsgsPerSec)
		kib, cpu, rss = append(kib, s.Idle.KiBPerConn), append(cpu, s.CPUSeconds), append(rss, s.PeakRSSMiB)
	}
	out := SocketIOSummary{System: sys, DeliveriesPerSec: median(fan), PublishPerSec: median(pub),
		KiBPerSocket: median(kib), CPUSeconds: median(cpu), PeakRSSMiB: median(rss)}
	if out.KiBPerSocket > 0 {
		out.SocketsPerGiB = (1 << 20) / out.KiBPerSocket
	}
	return out
}
