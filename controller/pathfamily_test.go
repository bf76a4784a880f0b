package controller_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent/agenttest"
)

// v1Only puts the path layout of the seed's production agent in front of
// a real agent: /health bare, everything else only under /v1, a bare
// /wg/... answered 404 {"detail": "Not Found"} as FastAPI does. It records
// the paths that reached it.
type v1Only struct {
	proxy *httputil.ReverseProxy
	mu    sync.Mutex
	paths []string
}

func (v *v1Only) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	v.mu.Lock()
	v.paths = append(v.paths, r.Method+" "+r.URL.EscapedPath())
	v.mu.Unlock()
	if p := r.URL.EscapedPath(); p != "/health" && !strings.HasPrefix(p, "/v1/") {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"detail":"Not Found"}`)
		return
	}
	v.proxy.ServeHTTP(w, r)
}

func (v *v1Only) seen() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]string(nil), v.paths...)
}

// TestV1OnlyAgent: a node whose agent serves its peer endpoints only under
// /v1 is found out on first contact (the node test says so), remembered
// on the node (api_paths "v1" in its JSON), and driven there: a peer
// created through the controller reaches the agent, and no call after the
// first finding goes to a bare /wg/ path again (issue 11 item 1).
func TestV1OnlyAgent(t *testing.T) {
	a := agenttest.Start(t, agenttest.Options{})
	target, err := url.Parse(a.URL)
	if err != nil {
		t.Fatal(err)
	}
	front := &v1Only{proxy: httputil.NewSingleHostReverseProxy(target)}
	srv := httptest.NewServer(front)
	t.Cleanup(srv.Close)

	h := startControllerPolling(t, "", time.Hour)
	var n nodeJSON
	status, raw := h.call("POST", "/api/nodes", map[string]any{
		"name": "fastapi-1", "agent_url": srv.URL, "secret": a.Secret, "wg_interface": a.Iface,
		"endpoint": "127.0.0.1:51820", "ip_pool_cidr": "10.96.0.0/24", "enabled": true,
	}, &n)
	if status >= 300 {
		t.Fatalf("create node: %d %s", status, raw)
	}
	var test struct {
		OK       bool   `json:"ok"`
		Message  string `json:"message"`
		APIPaths string `json:"api_paths"`
	}
	if status, raw := h.call("POST", fmt.Sprintf("/api/nodes/%d/test", n.ID), nil, &test); status != http.StatusOK {
		t.Fatalf("node test: %d %s", status, raw)
	}
	if !test.OK || test.APIPaths != "v1" || !strings.Contains(test.Message, "/v1/wg/"+a.Iface) {
		t.Fatalf("node test: ok %v, api_paths %q, message %q; want ok, v1, and the message naming /v1/wg/%s", test.OK, test.APIPaths, test.Message, a.Iface)
	}
	var node struct {
		Status   string `json:"status"`
		APIPaths string `json:"api_paths"`
	}
	eventually(t, 10*time.Second, "the node online with api_paths v1", func() bool {
		h.call("GET", fmt.Sprintf("/api/nodes/%d", n.ID), nil, &node)
		return node.Status == "online" && node.APIPaths == "v1"
	})

	bareCalls := func() int {
		bare := 0
		for _, s := range front.seen() {
			if strings.Contains(s, " /wg/") {
				bare++
			}
		}
		return bare
	}
	if bareCalls() == 0 {
		t.Fatal("test broken: the controller never tried the bare paths first")
	}
	before := bareCalls()

	var p peerJSON
	if status, raw := h.call("POST", fmt.Sprintf("/api/nodes/%d/peers", n.ID), map[string]any{"name": "laptop"}, &p); status >= 300 {
		t.Fatalf("create peer: %d %s", status, raw)
	}
	eventually(t, 10*time.Second, "the agent to have the peer", func() bool { return agentHasPeer(t, a, p.PublicKey, p.AllowedIPs[0]) })
	eventually(t, 10*time.Second, "sync_state applied", func() bool {
		var got peerJSON
		h.call("GET", fmt.Sprintf("/api/peers/%d", p.ID), nil, &got)
		return got.SyncState == "applied"
	})

	// Bare /wg/ paths were tried on first contact only.
	if got := bareCalls(); got != before {
		t.Errorf("%d calls to bare /wg/ paths after the family was found out, want 0: %v", got-before, front.seen())
	}
}
