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

// simFleet is BenchmarkControllerFleet's simulated agents, one per node:
// agenttest's Fake (peers in memory, every signature checked by the real
// Verifier, answers held to the real agent's), each served on a loopback
// listener of its own, so every node is a distinct host:port and the
// controller's connection reuse is measured as against real nodes.
//
// The agents run either in this process (local) or in child processes,
// each serving a slice of the nodes (procs, fleetsimproc_test.go): a
// process may hold 20,000 files here, and 10,000 agents beside the
// controller need about 30,000 (a listener and an accepted connection
// each, and the controller's end of that connection). Either way the
// same simAgents serve them and count what the benchmark measures.
type simFleet struct {
	nodes []simNode
	local *simAgents // nil when the agents run in child processes
	procs []*simProc // the child processes, in node order
}

// simNode is where node i's simulated agent listens, and its secret.
type simNode struct {
	url, secret string
}

// simStats is what the simulated agents counted so far.
type simStats struct {
	accepts  int64     // connections accepted (each one the controller dialled)
	minPolls int       // the fewest polls (GET /health) any agent answered
	arrivals int       // peer keys that have reached their agent
	last     time.Time // when the last of them first arrived (zero: none)
}

// add merges the counts of another slice of the fleet.
func (s simStats) add(o simStats) simStats {
	s.accepts += o.accepts
	s.minPolls = min(s.minPolls, o.minPolls)
	s.arrivals += o.arrivals
	if o.last.After(s.last) {
		s.last = o.last
	}
	return s
}

// simSecret is simulated agent i's secret.
func simSecret(i int) string {
	return strings.Repeat("s", 32) + "-" + strconv.Itoa(i)
}

// startSimFleet starts n simulated agents: in this process when procs
// is 0, else spread evenly over procs child processes. Everything stops
// when tb ends.
func startSimFleet(tb testing.TB, n, procs int) *simFleet {
	tb.Helper()
	if procs == 0 {
		a := startSimAgents(tb, 0, n, n)
		f := &simFleet{local: a}
		for i, u := range a.urls {
			f.nodes = append(f.nodes, simNode{url: u, secret: simSecret(i)})
		}
		return f
	}
	f := &simFleet{}
	for p := range procs {
		f.procs = append(f.procs, startSimProc(tb, p*n/procs, (p+1)*n/procs, n))
	}
	for _, p := range f.procs {
		urls := p.ready(tb)
		for _, u := range urls {
			f.nodes = append(f.nodes, simNode{url: u, secret: simSecret(len(f.nodes))})
		}
	}
	return f
}

// stats is what every agent counted so far.
func (f *simFleet) stats(tb testing.TB) simStats {
	tb.Helper()
	if f.local != nil {
		return f.local.stats()
	}
	s := simStats{minPolls: int(^uint(0) >> 1)}
	for _, p := range f.procs {
		s = s.add(p.stats(tb))
	}
	return s
}

// arrived is when each peer key first reached its agent.
func (f *simFleet) arrived(tb testing.TB) map[string]time.Time {
	tb.Helper()
	if f.local != nil {
		return f.local.arrivedCopy()
	}
	all := map[string]time.Time{}
	for _, p := range f.procs {
		p.arrived(tb, all)
	}
	return all
}

// agentsPeakRSSMiB is the sum of the child processes' peak resident
// memory (VmHWM); 0 when the agents run in this process.
func (f *simFleet) agentsPeakRSSMiB() float64 {
	var sum float64
	for _, p := range f.procs {
		sum += peakRSSMiB(strconv.Itoa(p.cmd.Process.Pid))
	}
	return sum
}

// simAgents serves simulated agents from to to (of total) in this
// process and counts, over all of them, the connections the controller
// opened (accepts), the time each peer key first reached its agent, and
// the polls (GET /health) each agent answered.
type simAgents struct {
	urls    []string // of agent from+i
	agents  []*simAgent
	accepts atomic.Int64

	mu      sync.Mutex // guards arrived, last and polls
	arrived map[string]time.Time
	last    time.Time
	polls   []int // per agent, GET /health answered
}

// simAgent is one Fake with one interface, "wg0", behind its own server.
type simAgent struct {
	set   *simAgents
	index int // in set.polls
	fake  *agenttest.Fake
	srv   *http.Server
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

func startSimAgents(tb testing.TB, from, to, total int) *simAgents {
	tb.Helper()
	s := &simAgents{arrived: map[string]time.Time{}, polls: make([]int, to-from)}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, a := range s.agents {
			_ = a.srv.Shutdown(ctx)
		}
	})
	for i := from; i < to; i++ {
		ln, err := simListen(i, total)
		if err != nil {
			tb.Fatalf("simulated agent %d: %v", i, err)
		}
		a := &simAgent{set: s, index: i - from,
			fake: agenttest.StartFake(tb, agenttest.FakeOptions{Secret: simSecret(i), Unserved: true})}
		a.srv = &http.Server{Handler: a, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
		go func() {
			if err := a.srv.Serve(countingListener{ln, &s.accepts}); err != nil && !errors.Is(err, http.ErrServerClosed) {
				tb.Errorf("simulated agent %d: %v", i, err)
			}
		}()
		s.agents = append(s.agents, a)
		s.urls = append(s.urls, "http://"+ln.Addr().String())
	}
	return s
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

// stats is what these agents counted so far.
func (s *simAgents) stats() simStats {
	st := simStats{accepts: s.accepts.Load()}
	s.mu.Lock()
	defer s.mu.Unlock()
	st.arrivals, st.last = len(s.arrived), s.last
	st.minPolls = -1
	for _, p := range s.polls {
		if st.minPolls < 0 || p < st.minPolls {
			st.minPolls = p
		}
	}
	st.minPolls = max(st.minPolls, 0)
	return st
}

// arrivedCopy is when each peer key first reached its agent.
func (s *simAgents) arrivedCopy() map[string]time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]time.Time, len(s.arrived))
	for k, t := range s.arrived {
		out[k] = t
	}
	return out
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
		a.set.mu.Lock()
		a.set.polls[a.index]++
		a.set.mu.Unlock()
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
	a.set.mu.Lock()
	defer a.set.mu.Unlock()
	for _, k := range keys {
		if _, ok := a.set.arrived[k]; !ok {
			a.set.arrived[k] = now
			a.set.last = now
		}
	}
}
