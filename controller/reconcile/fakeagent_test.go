package reconcile

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/wgfleet/wgfleet/agent/agentapi"
)

// fakeAgent is a small in-memory agent for the benchmark, where a hundred
// real devices would measure wireguard-go rather than the reconciler. It
// speaks the wire contract with the real Verifier (signatures, nonces)
// and keeps peers in a map; it checks no CIDR and holds no device. The
// behaviour tests use real agents (agenttest).
type fakeAgent struct {
	srv      *httptest.Server
	secret   string
	iface    string
	verifier *agentapi.Verifier
	requests atomic.Int64

	mu    sync.Mutex // guards peers
	peers map[string]agentapi.Peer
}

func newFakeAgent(tb testing.TB, iface string) *fakeAgent {
	tb.Helper()
	secret := strings.Repeat("k", 32) + iface
	v, err := agentapi.NewVerifier(agentapi.VerifierConfig{Secrets: [][]byte{[]byte(secret)}})
	if err != nil {
		tb.Fatal(err)
	}
	a := &fakeAgent{secret: secret, iface: iface, verifier: v, peers: map[string]agentapi.Peer{}}
	a.srv = httptest.NewServer(http.HandlerFunc(a.serve))
	tb.Cleanup(a.srv.Close)
	return a
}

func (a *fakeAgent) serve(w http.ResponseWriter, r *http.Request) {
	a.requests.Add(1)
	body, err := io.ReadAll(io.LimitReader(r.Body, agentapi.MaxBodyBytes+1))
	if err != nil {
		reply(w, http.StatusBadRequest, agentapi.ErrorResponse{Error: "reading body"})
		return
	}
	if err := a.verifier.Verify(r, body); err != nil {
		reply(w, http.StatusUnauthorized, agentapi.ErrorResponse{Error: err.Error()})
		return
	}
	if r.URL.Path == "/health" {
		reply(w, http.StatusOK, agentapi.Health{Status: "ok", Version: "fake",
			Capabilities: []string{agentapi.CapNonce, agentapi.CapPeerSync}})
		return
	}
	rest, ok := strings.CutPrefix(strings.TrimPrefix(r.URL.EscapedPath(), "/v1"), "/wg/"+a.iface)
	if !ok {
		reply(w, http.StatusNotFound, agentapi.ErrorResponse{Error: "no such interface"})
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case rest == "/dump" && r.Method == http.MethodGet:
		reply(w, http.StatusOK, agentapi.Dump{Interface: a.iface, Peers: a.list()})
	case rest == "/peers" && r.Method == http.MethodPost:
		req, err := agentapi.DecodeAddPeer(body)
		if err != nil {
			reply(w, http.StatusBadRequest, agentapi.ErrorResponse{Error: err.Error()})
			return
		}
		if _, dup := a.peers[req.PublicKey]; dup {
			reply(w, http.StatusConflict, agentapi.ErrorResponse{Error: "peer exists"})
			return
		}
		p := agentapi.Peer{PublicKey: req.PublicKey, AllowedIPs: req.AllowedIPs}
		if req.PersistentKeepalive != nil {
			p.PersistentKeepalive = *req.PersistentKeepalive
		}
		a.peers[req.PublicKey] = p
		reply(w, http.StatusCreated, agentapi.StatusResponse{Status: "success"})
	case rest == "/peers" && r.Method == http.MethodPut:
		req, err := agentapi.DecodeSync(body)
		if err != nil {
			reply(w, http.StatusBadRequest, agentapi.ErrorResponse{Error: err.Error()})
			return
		}
		var res agentapi.SyncResult
		next := make(map[string]agentapi.Peer, len(req.Peers))
		for _, s := range req.Peers {
			p := agentapi.Peer{PublicKey: s.PublicKey, AllowedIPs: s.AllowedIPs, PersistentKeepalive: s.PersistentKeepalive}
			old, had := a.peers[s.PublicKey]
			switch {
			case !had:
				res.Added++
			case old.PersistentKeepalive != p.PersistentKeepalive || strings.Join(old.AllowedIPs, ",") != strings.Join(p.AllowedIPs, ","):
				res.Updated++
			default:
				res.Unchanged++
			}
			next[s.PublicKey] = p
		}
		res.Removed = len(a.peers) + res.Added - len(next)
		a.peers = next
		res.Status = "success"
		reply(w, http.StatusOK, res)
	case strings.HasPrefix(rest, "/peers/"):
		k, err := agentapi.ParsePathKey(strings.TrimPrefix(rest, "/peers/"))
		if err != nil {
			reply(w, http.StatusBadRequest, agentapi.ErrorResponse{Error: "bad key"})
			return
		}
		p, had := a.peers[k.String()]
		if !had {
			reply(w, http.StatusNotFound, agentapi.ErrorResponse{Error: "peer not found"})
			return
		}
		switch r.Method {
		case http.MethodDelete:
			delete(a.peers, k.String())
		case http.MethodPut:
			req, err := agentapi.DecodeUpdatePeer(body)
			if err != nil {
				reply(w, http.StatusBadRequest, agentapi.ErrorResponse{Error: err.Error()})
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
			reply(w, http.StatusMethodNotAllowed, agentapi.ErrorResponse{Error: "method not allowed"})
			return
		}
		reply(w, http.StatusOK, agentapi.StatusResponse{Status: "success"})
	default:
		reply(w, http.StatusNotFound, agentapi.ErrorResponse{Error: "no such endpoint"})
	}
}

// list is every peer as in a dump; a.mu is held.
func (a *fakeAgent) list() []agentapi.Peer {
	out := make([]agentapi.Peer, 0, len(a.peers))
	for _, p := range a.peers {
		if p.AllowedIPs == nil {
			p.AllowedIPs = []string{}
		}
		out = append(out, p)
	}
	return out
}

// edit runs fn on the peer map, behind the controller's back.
func (a *fakeAgent) edit(fn func(peers map[string]agentapi.Peer)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	fn(a.peers)
}

func reply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}
