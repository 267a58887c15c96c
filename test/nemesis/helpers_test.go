//go:build linux

package nemesis

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"testing"
	"time"
)

// requireTools skips the test, naming what is missing, when the machine
// cannot inject the fault.
func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	if err := Available(tools...); err != nil {
		t.Skipf("SKIP %s: %v", t.Name(), err)
	}
}

// aliases returns n loopback addresses 127.A.B.2… in a random block, so
// concurrent tests on the machine do not share addresses.
func aliases(n int) []string {
	p := fmt.Sprintf("127.%d.%d.", 1+rand.IntN(250), 1+rand.IntN(250))
	ips := make([]string, n)
	for i := range ips {
		ips[i] = fmt.Sprintf("%s%d", p, i+2)
	}
	return ips
}

// echoServer accepts on ip until the test ends and echoes every byte back.
func echoServer(t *testing.T, ip string) string {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go echo(c)
		}
	}()
	return ln.Addr().String()
}

func echo(c net.Conn) {
	defer c.Close()
	b := make([]byte, 1)
	for {
		if _, err := c.Read(b); err != nil {
			return
		}
		if _, err := c.Write(b); err != nil {
			return
		}
	}
}

// dialFrom connects from source address src to addr with a timeout.
func dialFrom(src, addr string, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	return d.Dial("tcp", addr)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
