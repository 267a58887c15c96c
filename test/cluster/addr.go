package clustertest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
)

// Default ports of a node, as "carrier serve" has them.
const (
	apiPort    = 7420
	raftPort   = 7421
	gossipPort = 7422
)

// addrs are the three listen addresses of one node.
type addrs struct {
	IP                string
	API, Raft, Gossip string
}

// allocator hands out node addresses. With loopback aliases (Linux routes
// all of 127.0.0.0/8 to lo) every node gets its own IP in a block
// 127.A.B.x chosen at random so that concurrent clusters on one machine do
// not collide, with the default ports; otherwise each node gets free ports
// on 127.0.0.1. Not safe for concurrent use (Cluster serialises it).
type allocator struct {
	aliases bool
	prefix  string // "127.A.B." when aliases
	next    int    // last octet of the next node
}

func newAllocator() *allocator {
	for range 20 {
		p := fmt.Sprintf("127.%d.%d.", 1+rand.IntN(250), 1+rand.IntN(250))
		if ipFree(p+"2") == nil {
			return &allocator{aliases: true, prefix: p, next: 2}
		}
	}
	return &allocator{}
}

// take returns the addresses of the next node.
func (a *allocator) take() (addrs, error) {
	if !a.aliases {
		return freePorts()
	}
	for a.next < 255 {
		ip := a.prefix + strconv.Itoa(a.next)
		a.next++
		if ipFree(ip) == nil {
			return addrs{IP: ip, API: hostPort(ip, apiPort), Raft: hostPort(ip, raftPort),
				Gossip: hostPort(ip, gossipPort)}, nil
		}
	}
	return addrs{}, errors.New("no free loopback address left in " + a.prefix + "0/24")
}

func hostPort(ip string, port int) string { return net.JoinHostPort(ip, strconv.Itoa(port)) }

// ipFree checks that the default ports can be bound on ip (TCP for all
// three, UDP too for gossip).
func ipFree(ip string) error {
	var closers []func() error
	defer func() {
		for _, c := range closers {
			_ = c()
		}
	}()
	for _, p := range []int{apiPort, raftPort, gossipPort} {
		ln, err := net.Listen("tcp", hostPort(ip, p))
		if err != nil {
			return err
		}
		closers = append(closers, ln.Close)
	}
	pc, err := net.ListenPacket("udp", hostPort(ip, gossipPort))
	if err != nil {
		return err
	}
	closers = append(closers, pc.Close)
	return nil
}

// freePorts picks three ports on 127.0.0.1 that were free a moment ago; the
// gossip port is free for UDP too.
func freePorts() (addrs, error) {
	a := addrs{IP: "127.0.0.1"}
	for range 20 {
		ports, err := listenFree(3)
		if err != nil {
			return a, err
		}
		g := hostPort(a.IP, ports[2])
		pc, err := net.ListenPacket("udp", g)
		if err != nil {
			continue
		}
		pc.Close()
		a.API, a.Raft, a.Gossip = hostPort(a.IP, ports[0]), hostPort(a.IP, ports[1]), g
		return a, nil
	}
	return a, errors.New("no free UDP+TCP port on 127.0.0.1")
}

func listenFree(n int) ([]int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
