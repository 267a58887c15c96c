package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/carriermq/carrier/client"
	clustertest "github.com/carriermq/carrier/test/cluster"
)

// FailoverConfig sets up "carrier-bench failover".
type FailoverConfig struct {
	Bin              string        // the carrier binary that runs the nodes
	Dir              string        // data dirs and logs ("" = a temporary dir, removed after)
	Trials           int           // leader kills measured (default 20)
	Warmup           int           // confirmed publishes before each kill (default 50)
	HeartbeatTimeout time.Duration // passed to every node when set
	ElectionTimeout  time.Duration // passed to every node when set
	Progress         io.Writer     // one line per trial (nil: none)
}

// FailoverResult is the measurement: per trial, the gap between the last
// publish confirmed before the leader was killed and the first one
// confirmed after.
type FailoverResult struct {
	Trials           []Trial       `json:"trials"`
	P50              time.Duration `json:"p50"`
	P99              time.Duration `json:"p99"`
	Max              time.Duration `json:"max"`
	Mean             time.Duration `json:"mean"`
	HeartbeatTimeout time.Duration `json:"heartbeatTimeout,omitempty"`
	ElectionTimeout  time.Duration `json:"electionTimeout,omitempty"`
	Addresses        string        `json:"addresses"` // "loopback aliases" or "127.0.0.1 ports"
}

// Trial is one kill of the leader.
type Trial struct {
	Killed    string        `json:"killed"`    // the leader's node id
	Via       string        `json:"via"`       // the node the publisher was connected to
	Failover  time.Duration `json:"failover"`  // last confirm before the kill → first confirm after
	Confirmed int           `json:"confirmed"` // publishes confirmed during the trial
}

// Failover starts a 3-node cluster and measures cfg.Trials leader kills. It
// stops every process it started before returning.
// A temporary work dir is removed on success and kept (with the node logs)
// on failure.
func Failover(ctx context.Context, cfg FailoverConfig) (_ FailoverResult, err error) {
	cfg = cfg.withDefaults()
	dir, cleanup, err := workDir(cfg.Dir)
	if err != nil {
		return FailoverResult{}, err
	}
	defer func() {
		if err == nil {
			cleanup()
		}
	}()
	c, err := clustertest.New(clustertest.Options{Bin: cfg.Bin, Dir: dir, Size: 3, LogLevel: "info",
		HeartbeatTimeout: cfg.HeartbeatTimeout, ElectionTimeout: cfg.ElectionTimeout})
	if err != nil {
		return FailoverResult{}, err
	}
	defer c.Close()
	res := FailoverResult{HeartbeatTimeout: cfg.HeartbeatTimeout, ElectionTimeout: cfg.ElectionTimeout,
		Addresses: addressKind(c)}
	for i := range cfg.Trials {
		tr, err := failoverTrial(ctx, c, cfg.Warmup)
		if err != nil {
			return res, fmt.Errorf("trial %d: %w (node logs in %s)", i+1, err, dir)
		}
		res.Trials = append(res.Trials, tr)
		if cfg.Progress != nil {
			fmt.Fprintf(cfg.Progress, "trial %d/%d: killed leader %s, publishing via %s: failover %v\n",
				i+1, cfg.Trials, tr.Killed, tr.Via, tr.Failover.Round(time.Millisecond))
		}
	}
	res.summarise()
	return res, nil
}

func (cfg FailoverConfig) withDefaults() FailoverConfig {
	cfg.Trials = orInt(cfg.Trials, 20)
	cfg.Warmup = orInt(cfg.Warmup, 50)
	return cfg
}

func addressKind(c *clustertest.Cluster) string {
	if c.AddressesAreAliases() {
		return "loopback aliases"
	}
	return "127.0.0.1 ports"
}

// workDir returns dir, or a new temporary dir that cleanup removes.
func workDir(dir string) (string, func(), error) {
	if dir != "" {
		return dir, func() {}, os.MkdirAll(dir, 0o750)
	}
	tmp, err := os.MkdirTemp("", "carrier-bench-failover-")
	if err != nil {
		return "", nil, fmt.Errorf("work dir: %w", err)
	}
	return tmp, func() { _ = os.RemoveAll(tmp) }, nil
}

// failoverTrial waits for a healthy cluster, publishes through a follower,
// kills the leader, measures, and restarts the killed node.
func failoverTrial(ctx context.Context, c *clustertest.Cluster, warmup int) (Trial, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := c.WaitReady(ctx); err != nil {
		return Trial{}, err
	}
	leader, err := c.Leader(ctx)
	if err != nil {
		return Trial{}, err
	}
	via := otherThan(c, leader)
	p, err := startPublisher(ctx, via.URL())
	if err != nil {
		return Trial{}, err
	}
	defer p.stop()
	if err := p.waitCount(ctx, warmup); err != nil {
		return Trial{}, fmt.Errorf("warm-up: %w", err)
	}
	leader.Kill() // returns once the process is gone
	killed := time.Now()
	gap, err := p.gapAround(ctx, killed)
	if err != nil {
		return Trial{}, err
	}
	p.stop()
	tr := Trial{Killed: leader.ID, Via: via.ID, Failover: gap, Confirmed: p.count()}
	if err := leader.Start(); err != nil {
		return tr, err
	}
	return tr, leader.WaitReady(ctx)
}

func otherThan(c *clustertest.Cluster, n *clustertest.Node) *clustertest.Node {
	for _, o := range c.Running() {
		if o != n {
			return o
		}
	}
	return n
}

// publisher publishes one message at a time, as fast as confirmations
// come, and records when each confirmation arrived. Its mutex guards times.
type publisher struct {
	cl   *client.Client
	done chan struct{}
	quit chan struct{}
	once sync.Once

	mu    sync.Mutex
	times []time.Time
}

func startPublisher(ctx context.Context, url string) (*publisher, error) {
	cl, err := client.Dial(ctx, []string{url}, client.Options{ReconnectMin: 50 * time.Millisecond,
		ReconnectMax: 500 * time.Millisecond, PingInterval: 2 * time.Second})
	if err != nil {
		return nil, err
	}
	p := &publisher{cl: cl, done: make(chan struct{}), quit: make(chan struct{})}
	go p.run()
	return p, nil
}

func (p *publisher) run() {
	defer close(p.done)
	for {
		select {
		case <-p.quit:
			return
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := p.cl.Publish(ctx, "bench-failover", client.Message{Event: "tick", Data: []byte("1")})
		cancel()
		if err == nil {
			p.mu.Lock()
			p.times = append(p.times, time.Now())
			p.mu.Unlock()
		}
	}
}

func (p *publisher) stop() {
	p.once.Do(func() {
		close(p.quit)
		_ = p.cl.Close() // ends a publish in flight
		<-p.done
	})
}

func (p *publisher) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.times)
}

// waitCount waits until n publishes are confirmed.
func (p *publisher) waitCount(ctx context.Context, n int) error {
	return clustertest.Poll(ctx, 10*time.Millisecond, func() error {
		if got := p.count(); got < n {
			return fmt.Errorf("%d of %d publishes confirmed", got, n)
		}
		return nil
	})
}

// afterKill is how many confirmations after the kill the failover window
// extends to (see gapAround).
const afterKill = 5

// gapAround waits for afterKill confirmations after t and returns the
// outage around t (see the function gapAround).
func (p *publisher) gapAround(ctx context.Context, t time.Time) (time.Duration, error) {
	var gap time.Duration
	err := clustertest.Poll(ctx, 5*time.Millisecond, func() error {
		p.mu.Lock()
		defer p.mu.Unlock()
		var ok bool
		gap, ok = gapAround(p.times, t, afterKill)
		if !ok {
			return errors.New("not enough publishes confirmed since the kill")
		}
		return nil
	})
	return gap, err
}

// gapAround returns the longest time between consecutive confirmations from
// the last one at or before t to the n-th one after t; ok is false when
// either is missing. times is ascending. With a leader killed at t this is
// "last confirmation before the kill → first confirmation after it", made
// robust against a reply already in flight when the leader died arriving
// just after t: the outage is then the next gap.
func gapAround(times []time.Time, t time.Time, n int) (time.Duration, bool) {
	first := -1 // index of the first confirmation after t
	for i, x := range times {
		if x.After(t) {
			first = i
			break
		}
	}
	if first <= 0 || first+n > len(times) {
		return 0, false
	}
	var gap time.Duration
	for i := first; i < first+n; i++ {
		gap = max(gap, times[i].Sub(times[i-1]))
	}
	return gap, true
}
