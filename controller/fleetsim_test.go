package controller_test

import (
	"context"
	"encoding/json"
	"errors"
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
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// simFleet is BenchmarkControllerFleet's simulated agents: one process,
// one loopback listener per agent (a distinct host:port each, so the
// controller's connection reuse is measured as it would be against real
// nodes), every request's signature checked by the real Verifier, peers
// kept in a map per agent. It records what the benchmark measures: the
// connections the controller opened (accepts), the time each peer key
// first reached its agent, and the polls (GET /health) each agent got.
//
// agenttest.Fake (branch c9-tests) is the one fake agent once it is on
// main; this one stays small and keeps the per-peer arrival times the
// benchmark needs.
type simFleet struct {
	agents  []*simAgent
	accepts atomic.Int64

	mu      sync.Mutex // guards arrived and polls
	arrived map[string]time.Time
	polls   [][]time.Time // per agent, the time of every GET /health
}

// simAgent is one simulated agent with one interface, "wg0".
type simAgent struct {
	fleet    *simFleet
	index    int
	url      string
	secret   string
	verifier *agentapi.Verifier
	srv      *http.Server
	pub      wgtypes.Key

	mu    sync.Mutex // guards peers
	peers map[string]agentapi.Peer
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
	f := &simFleet{arrived: map[string]time.Time{}, polls: make([][]time.Time, n)}
	for i := range n {
		secret := agentapiSecret(i)
		v, err := agentapi.NewVerifier(agentapi.VerifierConfig{Secrets: [][]byte{[]byte(secret)}})
		if err != nil {
			tb.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatalf("simulated agent %d: %v", i, err)
		}
		priv, err := wgtypes.GeneratePrivateKey()
		if err != nil {
			tb.Fatal(err)
		}
		a := &simAgent{fleet: f, index: i, url: "http://" + ln.Addr().String(), secret: secret,
			verifier: v, pub: priv.PublicKey(), peers: map[string]agentapi.Peer{}}
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

// agentapiSecret is agent i's shared secret.
func agentapiSecret(i int) string {
	return strings.Repeat("s", 32) + "-" + strconv.Itoa(i)
}

// arrivedAt returns when each key first reached an agent; ok is false for
// a key that has not.
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

// minPolls is the fewest polls any agent has had.
func (f *simFleet) minPolls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := -1
	for _, p := range f.polls {
		if m < 0 || len(p) < m {
			m = len(p)
		}
	}
	return max(m, 0)
}

// added records the peers a write put on agent a.
func (a *simAgent) added(keys []string) {
	now := time.Now()
	a.fleet.mu.Lock()
	defer a.fleet.mu.Unlock()
	for _, k := range keys {
		if _, ok := a.fleet.arrived[k]; !ok {
			a.fleet.arrived[k] = now
		}
	}
}

func (a *simAgent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, agentapi.MaxBodyBytes))
	if err != nil {
		simReply(w, http.StatusRequestEntityTooLarge, agentapi.ErrorResponse{Error: "request body too large"})
		return
	}
	if err := a.verifier.Verify(r, body); err != nil {
		simReply(w, http.StatusUnauthorized, agentapi.ErrorResponse{Error: err.Error()})
		return
	}
	if r.URL.Path == "/health" {
		a.fleet.mu.Lock()
		a.fleet.polls[a.index] = append(a.fleet.polls[a.index], time.Now())
		a.fleet.mu.Unlock()
		simReply(w, http.StatusOK, agentapi.Health{Status: "ok", Version: "sim", Timestamp: time.Now().Unix(),
			Capabilities: []string{agentapi.CapNonce, agentapi.CapPeerSync, agentapi.CapInterfaceInfo}})
		return
	}
	path := r.URL.EscapedPath()
	v1 := strings.HasPrefix(path, "/v1/")
	rest, ok := strings.CutPrefix(strings.TrimPrefix(path, "/v1"), "/wg/wg0")
	if !ok {
		simReply(w, http.StatusNotFound, agentapi.ErrorResponse{Error: "interface not found"})
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case v1 && rest == "" && r.Method == http.MethodGet:
		simReply(w, http.StatusOK, agentapi.InterfaceInfo{Name: "wg0", Mode: "netstack", PublicKey: a.pub.String(),
			ListenPort: 51820, PeerCount: len(a.peers)})
	case (rest == "/dump" && !v1 || rest == "/peers" && v1) && r.Method == http.MethodGet:
		simReply(w, http.StatusOK, agentapi.Dump{Interface: "wg0", Peers: a.list()})
	case rest == "/peers" && !v1 && r.Method == http.MethodPost:
		req, err := agentapi.DecodeAddPeer(body)
		if err != nil {
			simReply(w, http.StatusBadRequest, agentapi.ErrorResponse{Error: err.Error()})
			return
		}
		if _, dup := a.peers[req.PublicKey]; dup {
			simReply(w, http.StatusConflict, agentapi.ErrorResponse{Error: "peer already exists"})
			return
		}
		p := agentapi.Peer{PublicKey: req.PublicKey, AllowedIPs: req.AllowedIPs}
		if req.PersistentKeepalive != nil {
			p.PersistentKeepalive = *req.PersistentKeepalive
		}
		a.peers[req.PublicKey] = p
		a.added([]string{req.PublicKey})
		simReply(w, http.StatusCreated, agentapi.StatusResponse{Status: "success"})
	case rest == "/peers" && v1 && r.Method == http.MethodPut:
		req, err := agentapi.DecodeSync(body)
		if err != nil {
			simReply(w, http.StatusBadRequest, agentapi.ErrorResponse{Error: err.Error()})
			return
		}
		var res agentapi.SyncResult
		next := make(map[string]agentapi.Peer, len(req.Peers))
		var keys []string
		for _, s := range req.Peers {
			p := agentapi.Peer{PublicKey: s.PublicKey, AllowedIPs: s.AllowedIPs, PersistentKeepalive: s.PersistentKeepalive}
			old, had := a.peers[s.PublicKey]
			switch {
			case !had:
				res.Added++
				keys = append(keys, s.PublicKey)
			case old.PersistentKeepalive != p.PersistentKeepalive || strings.Join(old.AllowedIPs, ",") != strings.Join(p.AllowedIPs, ","):
				res.Updated++
			default:
				res.Unchanged++
			}
			next[s.PublicKey] = p
		}
		res.Removed = len(a.peers) + res.Added - len(next)
		a.peers = next
		a.added(keys)
		res.Status = "success"
		simReply(w, http.StatusOK, res)
	case strings.HasPrefix(rest, "/peers/") && !v1:
		k, err := agentapi.ParsePathKey(strings.TrimPrefix(rest, "/peers/"))
		if err != nil {
			simReply(w, http.StatusBadRequest, agentapi.ErrorResponse{Error: err.Error()})
			return
		}
		p, had := a.peers[k.String()]
		if !had {
			simReply(w, http.StatusNotFound, agentapi.ErrorResponse{Error: "peer not found"})
			return
		}
		switch r.Method {
		case http.MethodDelete:
			delete(a.peers, k.String())
		case http.MethodPut:
			req, err := agentapi.DecodeUpdatePeer(body)
			if err != nil {
				simReply(w, http.StatusBadRequest, agentapi.ErrorResponse{Error: err.Error()})
				return
			}
			if req.AllowedIPs != nil {
				p.AllowedIPs = *req.AllowedIPs
			}
			if req.PersistentKeepalive != nil {
				p.PersistentKeepalive = *req.PersistentKeepalive
			}
			a.peers[k.String()] = p
		default:
			simReply(w, http.StatusMethodNotAllowed, agentapi.ErrorResponse{Error: "method not allowed"})
			return
		}
		simReply(w, http.StatusOK, agentapi.StatusResponse{Status: "success"})
	default:
		simReply(w, http.StatusNotFound, agentapi.ErrorResponse{Error: "endpoint not found"})
	}
}

// list is every peer as a dump shows it; a.mu is held.
func (a *simAgent) list() []agentapi.Peer {
	out := make([]agentapi.Peer, 0, len(a.peers))
	for _, p := range a.peers {
		if p.AllowedIPs == nil {
			p.AllowedIPs = []string{}
		}
		out = append(out, p)
	}
	return out
}

func simReply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
