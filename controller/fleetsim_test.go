package controller_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/agent/agenttest"
)

// simFleet is BenchmarkControllerFleet's simulated agents: agenttest's
// Fake (peers in memory, every signature checked by the real Verifier,
// answers held to the real agent's), each served on a loopback listener of
// its own, so every node is a distinct host:port and the controller's
// connection reuse is measured as against real nodes. Around each Fake it
// records what the benchmark measures: the connections the controller
// opened (accepts), the time each peer key first reached its agent, and
// the polls (GET /health) each agent answered.
type simFleet struct {
	agents  []*simAgent
	accepts atomic.Int64

	mu      sync.Mutex // guards arrived and polls
	arrived map[string]time.Time
	polls   []int // per agent, GET /health answered
}

// simAgent is one Fake with one interface, "wg0", behind its own server.
type simAgent struct {
	fleet  *simFleet
	index  int
	fake   *agenttest.Fake
	url    string
	secret string
	srv    *http.Server
}

// countingListener counts the connections it accepts.
type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

func startSimFleet(tb testing.TB, n int) *simFleet {
	tb.Helper()
	f := &simFleet{arrived: map[string]time.Time{}, polls: make([]int, n)}
	for i := range n {
		secret := strings.Repeat("s", 32) + "-" + strconv.Itoa(i)
		ln, err := simListen(i, n)
		if err != nil {
			tb.Fatalf("simulated agent %d: %v", i, err)
		}
		a := &simAgent{fleet: f, index: i, fake: agenttest.StartFake(tb, agenttest.FakeOptions{Secret: secret, Unserved: true}),
			url: "http://" + ln.Addr().String(), secret: secret}
		a.srv = &http.Server{Handler: a, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
		go func() {
			if err := a.srv.Serve(countingListener{ln, &f.accepts}); err != nil && !errors.Is(err, http.ErrServerClosed) {
				tb.Errorf("simulated agent %d: %v", i, err)
			}
		}()
		f.agents = append(f.agents, a)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, a := range f.agents {
			_ = a.srv.Shutdown(ctx)
		}
	})
	return f
}

// simListen opens simulated agent i's listener. Fleets of up to 2,000
// take a port of 127.0.0.1 each; a larger one puts each agent on an
// address of its own in 127.77.0.0/16 with a fixed port, so that the
// listeners do not use up the ephemeral ports the controller's
// connections to them need (28k on this host: 10,000 listeners and
// 10,000 connections would not fit).
func simListen(i, n int) (net.Listener, error) {
	if n <= 2000 {
		return net.Listen("tcp", "127.0.0.1:0")
	}
	host := fmt.Sprintf("127.77.%d.%d", i/250, i%250+1)
	if ln, err := net.Listen("tcp", host+":18443"); err == nil {
		return ln, nil
	}
	return net.Listen("tcp", host+":0") // 18443 taken there by a wildcard listener
}

// arrivedAt returns when key first reached an agent; ok is false for a
// key that has not.
func (f *simFleet) arrivedAt(key string) (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.arrived[key]
	return t, ok
}

// arrivals is how many peer keys have reached their agent.
func (f *simFleet) arrivals() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.arrived)
}

// minPolls is the fewest polls any agent has answered.
func (f *simFleet) minPolls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := -1
	for _, p := range f.polls {
		if m < 0 || p < m {
			m = p
		}
	}
	return max(m, 0)
}

// ServeHTTP hands the call to the Fake and notes what it answered: a poll,
// or peers now on the agent (an add answered 201, a replace-all 200).
func (a *simAgent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, agentapi.MaxBodyBytes))
	if err != nil {
		http.Error(w, "reading body", http.StatusRequestEntityTooLarge)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	sw := &agenttest.StatusRecorder{ResponseWriter: w}
	a.fake.ServeHTTP(sw, r)
	a.fake.Reset() // the benchmark reads none of the Fake's request log: keep it from growing
	var keys []string
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/health" && sw.Status == http.StatusOK:
		a.fleet.mu.Lock()
		a.fleet.polls[a.index]++
		a.fleet.mu.Unlock()
		return
	case r.Method == http.MethodPost && sw.Status == http.StatusCreated:
		var req agentapi.AddPeerRequest
		if json.Unmarshal(body, &req) == nil {
			keys = []string{req.PublicKey}
		}
	case r.Method == http.MethodPut && r.URL.Path == "/v1/wg/wg0/peers" && sw.Status == http.StatusOK:
		var req agentapi.SyncRequest
		if json.Unmarshal(body, &req) == nil {
			for _, p := range req.Peers {
				keys = append(keys, p.PublicKey)
			}
		}
	}
	if len(keys) == 0 {
		return
	}
	now := time.Now()
	a.fleet.mu.Lock()
	defer a.fleet.mu.Unlock()
	for _, k := range keys {
		if _, ok := a.fleet.arrived[k]; !ok {
			a.fleet.arrived[k] = now
		}
	}
}
