package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// probe runs the container's probes as the kubelet does, for as long as
// the process runs (until ctx ends): the startup probe first, and only once
// it passed the liveness and readiness probes. A startup or liveness probe
// that fails failureThreshold times in a row asks for the container to be
// killed (and restarted per policy); readiness sets the container's Ready.
// Without a startup probe the container counts as started when it runs;
// without a readiness probe, as ready once started.
func (c *ctrRun) probe(ctx context.Context, proc *process) {
	if p := c.spec.StartupProbe; p != nil {
		passed := make(chan struct{})
		go func() {
			c.loop(ctx, p, func(ok bool) bool {
				if ok {
					close(passed)
				}
				return !ok
			}, "startup")
		}()
		select {
		case <-passed:
		case <-ctx.Done():
			return
		}
	}
	c.setStarted()
	done := make(chan struct{})
	if p := c.spec.LivenessProbe; p != nil {
		go func() { defer close(done); c.loop(ctx, p, func(bool) bool { return true }, "liveness") }()
	} else {
		close(done)
	}
	if p := c.spec.ReadinessProbe; p != nil {
		c.loop(ctx, p, func(ok bool) bool { c.setReady(ok); return true }, "")
	} else {
		c.setReady(true)
	}
	<-done
}

// loop probes every period after the initial delay. Each time the result
// crosses a threshold (successThreshold passes, failureThreshold failures in
// a row) it calls result, and stops when result returns false. A liveness
// or startup (kill is set) failure kills the container and stops.
func (c *ctrRun) loop(ctx context.Context, p *corev1.Probe, result func(ok bool) bool, kill string) {
	period := seconds(p.PeriodSeconds, 10)
	if !sleepCtx(ctx, time.Duration(p.InitialDelaySeconds)*time.Second) {
		return
	}
	okRun, failRun := 0, 0
	for {
		err := c.check(ctx, p)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			okRun, failRun = okRun+1, 0
			if okRun == int(max(p.SuccessThreshold, 1)) && !result(true) {
				return
			}
		} else {
			okRun, failRun = 0, failRun+1
			slog.Debug("probe failed", "pod", c.r.key, "container", c.spec.Name, "err", err)
			if failRun == int(threshold(p.FailureThreshold)) {
				if kill != "" {
					c.requestKill(fmt.Sprintf("%s probe failed %d times: %v", kill, failRun, err))
					return
				}
				if !result(false) {
					return
				}
			}
		}
		if !sleepCtx(ctx, period) {
			return
		}
	}
}

func (c *ctrRun) requestKill(why string) {
	select {
	case c.kill <- why:
	default:
	}
}

func threshold(n int32) int32 {
	if n <= 0 {
		return 3
	}
	return n
}

func seconds(n int32, def int) time.Duration {
	if n <= 0 {
		return time.Duration(def) * time.Second
	}
	return time.Duration(n) * time.Second
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// check runs one probe: an HTTP GET passes with a status from 200 to 399,
// a TCP probe when it connects. Exec and gRPC probes are not served (they
// fail, saying so).
func (c *ctrRun) check(ctx context.Context, p *corev1.Probe) error {
	ctx, cancel := context.WithTimeout(ctx, seconds(p.TimeoutSeconds, 1))
	defer cancel()
	switch {
	case p.HTTPGet != nil:
		return c.checkHTTP(ctx, p.HTTPGet)
	case p.TCPSocket != nil:
		port, err := c.port(p.TCPSocket.Port)
		if err != nil {
			return err
		}
		host := firstNonEmpty(p.TCPSocket.Host, c.r.ip.String())
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return err
		}
		return conn.Close()
	}
	return errors.New("only HTTP and TCP probes are served by the node agent")
}

func (c *ctrRun) checkHTTP(ctx context.Context, g *corev1.HTTPGetAction) error {
	port, err := c.port(g.Port)
	if err != nil {
		return err
	}
	scheme := "http"
	if g.Scheme == corev1.URISchemeHTTPS {
		scheme = "https"
	}
	u := url.URL{Scheme: scheme, Host: net.JoinHostPort(firstNonEmpty(g.Host, c.r.ip.String()), strconv.Itoa(port)), Path: g.Path}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "kube-probe/1.36")
	for _, h := range g.HTTPHeaders {
		req.Header.Set(h.Name, h.Value)
	}
	client := http.Client{Transport: &http.Transport{
		DisableKeepAlives: true,
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, // as the kubelet: probes do not verify
	}}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return fmt.Errorf("HTTP probe %s: status %d", u.String(), resp.StatusCode)
	}
	return nil
}

// port resolves a probe's port: a number, or a container port's name.
func (c *ctrRun) port(p intstr.IntOrString) (int, error) {
	if p.Type == intstr.Int {
		return p.IntValue(), nil
	}
	for _, cp := range c.spec.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort), nil
		}
	}
	return 0, fmt.Errorf("probe port %q: no container port of that name", p.StrVal)
}
