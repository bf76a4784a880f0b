package controller_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent"
	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/store"
)

// rawSignedStatus is the status a real agent gives a raw signed GET of
// its interface signed with secret.
func rawSignedStatus(t *testing.T, agentURL, secret string) int {
	t.Helper()
	return rawSignedStatusVia(t, http.DefaultClient, agentURL, secret)
}

// rawSignedStatusVia is rawSignedStatus through client (a pinned one for
// an agent serving TLS).
func rawSignedStatusVia(t *testing.T, client *http.Client, agentURL, secret string) int {
	t.Helper()
	const path = "/v1/wg/wg0"
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req, err := http.NewRequest(http.MethodGet, agentURL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(agentapi.HeaderTimestamp, ts)
	req.Header.Set(agentapi.HeaderSignature, agentapi.Sign([]byte(secret), http.MethodGet, path, nil, ts, ""))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// traffic calls the controller's connection test of a node, which signs
// requests to its agent, from workers goroutines until stopped or max
// calls, and counts what failed.
type traffic struct {
	calls, failed atomic.Int64
	firstFailure  atomic.Value // string
	stop          chan struct{}
	wg            sync.WaitGroup
}

func startTraffic(h *harness, nodeID int64, workers, max int) *traffic {
	tr := &traffic{stop: make(chan struct{})}
	for range workers {
		tr.wg.Go(func() {
			for tr.calls.Load() < int64(max) {
				select {
				case <-tr.stop:
					return
				default:
				}
				tr.calls.Add(1)
				if msg := h.testNodeFails(nodeID); msg != "" {
					tr.failed.Add(1)
					tr.firstFailure.CompareAndSwap(nil, msg)
				}
			}
		})
	}
	return tr
}

// waitCalls waits until at least n more calls were made.
func (tr *traffic) waitCalls(t *testing.T, n int64) {
	t.Helper()
	want := tr.calls.Load() + n
	eventually(t, 30*time.Second, "traffic to the agent", func() bool { return tr.calls.Load() >= want })
}

func (tr *traffic) end(t *testing.T) {
	t.Helper()
	close(tr.stop)
	tr.wg.Wait()
	if f := tr.failed.Load(); f > 0 {
		t.Errorf("%d of %d requests failed during the rotations; the first: %v", f, tr.calls.Load(), tr.firstFailure.Load())
	}
}

// testNodeFails runs POST /api/nodes/{id}/test and returns "" when the
// agent answered the controller, else why not. It is safe from any
// goroutine (no t.Fatal).
func (h *harness) testNodeFails(id int64) string {
	req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/api/nodes/%d/test", h.url, id), nil)
	req.Header.Set("Authorization", "Bearer "+h.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	var env envelope
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		return err.Error()
	}
	if resp.StatusCode != http.StatusOK || !env.Status {
		msg := ""
		if env.Message != nil {
			msg = *env.Message
		}
		return fmt.Sprintf("%d %s", resp.StatusCode, msg)
	}
	return ""
}

type rotateJSON struct {
	Node struct {
		SecretRotating bool `json:"secret_rotating"`
	} `json:"node"`
	Resumed bool `json:"resumed"`
}

func (h *harness) rotate(id int64) (int, rotateJSON, string) {
	h.t.Helper()
	var out rotateJSON
	status, raw := h.call(http.MethodPost, fmt.Sprintf("/api/nodes/%d/rotate-secret", id), nil, &out)
	return status, out, string(raw)
}

// nodeSecrets is the node's secrets as the controller holds them.
func (h *harness) nodeSecrets(id int64) store.Node {
	h.t.Helper()
	n, err := h.ctrl.Store().GetNode(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return n
}

// addNodeAt adds an enabled node whose agent is at agentURL.
func (h *harness) addNodeAt(name, agentURL, secret string) nodeJSON {
	h.t.Helper()
	var n nodeJSON
	status, raw := h.call(http.MethodPost, "/api/nodes", map[string]any{
		"name": name, "agent_url": agentURL, "secret": secret, "wg_interface": "wg0",
		"endpoint": "127.0.0.1:51820", "ip_pool_cidr": "10.99.0.0/24", "enabled": true,
	}, &n)
	if status != http.StatusCreated && status != http.StatusOK {
		h.t.Fatalf("create node: %d %s", status, raw)
	}
	return n
}

// TestRotateSecretUnderLoad: a real controller rotates a real agent's
// secret three times while four workers keep the controller signing
// requests to that agent: not one fails. Afterwards the agent refuses the
// first secret to a raw signed request, also after a restart, and the
// controller still reaches it with the last one.
func TestRotateSecretUnderLoad(t *testing.T) {
	dir := t.TempDir()
	a := agenttest.Start(t, agenttest.Options{StateDir: dir})
	first := a.Secret
	h := startController(t, "")
	n := h.addNode("rot-load", a, "10.99.0.0/24")

	tr := startTraffic(h, n.ID, 4, 5000)
	tr.waitCalls(t, 10)
	seen := map[string]bool{first: true}
	for i := range 3 {
		status, res, raw := h.rotate(n.ID)
		if status != http.StatusOK || res.Resumed || res.Node.SecretRotating {
			t.Fatalf("rotation %d: %d %s", i+1, status, raw)
		}
		secret := string(h.nodeSecrets(n.ID).Secret)
		if seen[secret] || agentapi.CheckRotatedSecret([]byte(secret)) != nil {
			t.Fatalf("rotation %d: the new secret was used before or is not a valid one", i+1)
		}
		seen[secret] = true
		tr.waitCalls(t, 10)
	}
	tr.end(t)
	t.Logf("%d calls to the agent through the controller during 3 rotations", tr.calls.Load())

	last := h.nodeSecrets(n.ID)
	if last.PrevSecret != nil {
		t.Error("the controller kept a previous secret after the rotation")
	}
	if got := rawSignedStatus(t, a.URL, first); got != http.StatusUnauthorized {
		t.Errorf("the first secret after the rotations: %d, want 401", got)
	}
	if got := rawSignedStatus(t, a.URL, string(last.Secret)); got != http.StatusOK {
		t.Errorf("the last secret: %d, want 200", got)
	}

	// Restarted with its configuration unchanged (the first secret), the
	// agent still takes only the last one.
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	b := agenttest.Start(t, agenttest.Options{StateDir: dir, Addr: a.Addr, Secret: first})
	if got := rawSignedStatus(t, b.URL, first); got != http.StatusUnauthorized {
		t.Errorf("the first secret after an agent restart: %d, want 401", got)
	}
	if msg := h.testNodeFails(n.ID); msg != "" {
		t.Errorf("the controller after an agent restart: %s", msg)
	}

	entries, err := h.ctrl.Store().ListAudit(context.Background(), store.AuditFilter{TargetType: "node", TargetID: strconv.FormatInt(n.ID, 10)})
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, e := range entries {
		count[e.Action]++
		for s := range seen {
			if strings.Contains(string(e.Details), s) {
				t.Errorf("audit entry %s holds a secret", e.Action)
			}
		}
	}
	if count["node.secret_offer"] != 3 || count["node.secret_rotate"] != 3 {
		t.Errorf("audit: %v, want 3 node.secret_offer and 3 node.secret_rotate", count)
	}
}

// failingProxy forwards to an agent and, while failConfirm is set,
// answers 503 to a confirm without forwarding it; while loseOffer is set
// it forwards an offer and answers 502 instead of the agent's answer.
type failingProxy struct {
	failConfirm, loseOffer atomic.Bool
	rp                     *httputil.ReverseProxy
}

func (p *failingProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == agentapi.PathSecretConfirm && p.failConfirm.Load():
		http.Error(w, `{"error":"proxy: confirm dropped"}`, http.StatusServiceUnavailable)
	case r.URL.Path == agentapi.PathSecretRotate && p.loseOffer.Load():
		p.rp.ServeHTTP(discard{}, r)
		http.Error(w, `{"error":"proxy: answer lost"}`, http.StatusBadGateway)
	default:
		p.rp.ServeHTTP(w, r)
	}
}

// discard is a ResponseWriter that keeps nothing.
type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}

// TestRotateSecretInterrupted: rotations cut short at each step leave the
// node reachable, through an agent restart between offer and confirm too,
// and the next rotation finishes or restarts them.
func TestRotateSecretInterrupted(t *testing.T) {
	dir := t.TempDir()
	a := agenttest.Start(t, agenttest.Options{StateDir: dir})
	first := a.Secret
	target, _ := url.Parse(a.URL)
	proxy := &failingProxy{rp: httputil.NewSingleHostReverseProxy(target)}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	h := startController(t, "")
	n := h.addNodeAt("rot-cut", srv.URL, a.Secret)
	reachable := func(step string) {
		t.Helper()
		if msg := h.testNodeFails(n.ID); msg != "" {
			t.Fatalf("%s: the node is not reachable: %s", step, msg)
		}
	}

	// 1. The offer's answer is lost: the controller keeps its secret;
	// the agent has one pending it will never be confirmed.
	proxy.loseOffer.Store(true)
	if status, _, raw := h.rotate(n.ID); status != http.StatusBadGateway {
		t.Fatalf("rotation with the offer's answer lost: %d %s", status, raw)
	}
	proxy.loseOffer.Store(false)
	if got := h.nodeSecrets(n.ID); string(got.Secret) != first || got.PrevSecret != nil {
		t.Fatal("a failed offer changed the node's secrets")
	}
	reachable("after a lost offer")

	// 2. The confirm fails: the controller signs with the new secret and
	// keeps the old; the agent accepts both, across a restart as well.
	proxy.failConfirm.Store(true)
	status, _, raw := h.rotate(n.ID)
	if status != http.StatusBadGateway || !strings.Contains(raw, "accepts the old and the new one") {
		t.Fatalf("rotation with the confirm failing: %d %s", status, raw)
	}
	mid := h.nodeSecrets(n.ID)
	if string(mid.PrevSecret) != first || string(mid.Secret) == first {
		t.Fatal("after the offer the controller does not hold the new secret and the old one")
	}
	var node struct {
		SecretRotating bool `json:"secret_rotating"`
	}
	h.call(http.MethodGet, fmt.Sprintf("/api/nodes/%d", n.ID), nil, &node)
	if !node.SecretRotating {
		t.Error("the node JSON does not show the unfinished rotation")
	}
	reachable("between offer and confirm")
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	a = agenttest.Start(t, agenttest.Options{StateDir: dir, Addr: a.Addr, Secret: first})
	reachable("between offer and confirm, after an agent restart")
	for _, s := range []string{first, string(mid.Secret)} {
		if got := rawSignedStatus(t, a.URL, s); got != http.StatusOK {
			t.Errorf("between offer and confirm after a restart, a secret gets %d", got)
		}
	}

	// 3. The next rotation finishes the one under way.
	proxy.failConfirm.Store(false)
	status, res, raw := h.rotate(n.ID)
	if status != http.StatusOK || !res.Resumed || res.Node.SecretRotating {
		t.Fatalf("resuming the rotation: %d %s", status, raw)
	}
	if got := h.nodeSecrets(n.ID); string(got.Secret) != string(mid.Secret) || got.PrevSecret != nil {
		t.Fatal("the resumed rotation did not finish with the offered secret")
	}
	if got := rawSignedStatus(t, a.URL, first); got != http.StatusUnauthorized {
		t.Errorf("the first secret after the resumed rotation: %d, want 401", got)
	}
	reachable("after the resumed rotation")

	// 4. The agent loses the pending secret (its secrets file removed
	// while it was down): the controller falls back to the old secret,
	// and the next rotation restores it and starts again.
	second := string(mid.Secret)
	proxy.failConfirm.Store(true)
	if status, _, raw := h.rotate(n.ID); status != http.StatusBadGateway {
		t.Fatalf("rotation with the confirm failing: %d %s", status, raw)
	}
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, agent.SecretsFile)); err != nil {
		t.Fatal(err)
	}
	a = agenttest.Start(t, agenttest.Options{StateDir: dir, Addr: a.Addr, Secret: second})
	reachable("with the agent back on the old secret alone")
	proxy.failConfirm.Store(false)
	status, res, raw = h.rotate(n.ID)
	if status != http.StatusOK || res.Resumed {
		t.Fatalf("rotation after the agent lost the pending secret: %d %s", status, raw)
	}
	final := h.nodeSecrets(n.ID)
	if string(final.Secret) == second || final.PrevSecret != nil {
		t.Fatal("the restarted rotation did not install a new secret")
	}
	if got := rawSignedStatus(t, a.URL, second); got != http.StatusUnauthorized {
		t.Errorf("the replaced secret: %d, want 401", got)
	}
	reachable("at the end")
}

// TestRotateSecretOlderAgent: an agent of the seed's design cannot take a
// secret over its API: 409 pointing to the manual procedure, and nothing
// changes.
func TestRotateSecretOlderAgent(t *testing.T) {
	f := agenttest.StartFake(t, agenttest.FakeOptions{Dialect: agenttest.ReferenceAgent(), Capabilities: []string{}})
	h := startController(t, "")
	n := h.addNodeAt("rot-seed", f.URL, f.Secret)
	status, _, raw := h.rotate(n.ID)
	if status != http.StatusConflict || !strings.Contains(raw, "OPERATIONS.md") || !strings.Contains(raw, "secret file") {
		t.Fatalf("rotation of a seed agent: %d %s, want 409 pointing to the manual procedure", status, raw)
	}
	if got := h.nodeSecrets(n.ID); string(got.Secret) != f.Secret || got.PrevSecret != nil {
		t.Error("a refused rotation changed the node's secrets")
	}
	if msg := h.testNodeFails(n.ID); msg != "" {
		t.Errorf("after a refused rotation: %s", msg)
	}
}
