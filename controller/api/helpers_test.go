package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/agentclient"
	"github.com/wgfleet/wgfleet/controller/auth"
	"github.com/wgfleet/wgfleet/controller/fleet"
	"github.com/wgfleet/wgfleet/controller/reconcile"
	"github.com/wgfleet/wgfleet/controller/secretbox"
	"github.com/wgfleet/wgfleet/controller/store"
	"github.com/wgfleet/wgfleet/controller/traffic"
	"github.com/wgfleet/wgfleet/controller/webhook"
	"github.com/wgfleet/wgfleet/internal/testenv"
)

const adminPassword = "admin password for tests"

// fakeReconciler records calls and answers what it was given.
type fakeReconciler struct {
	mu      sync.Mutex
	drift   []reconcile.Drift
	err     error
	repairs []int64
}

var (
	_ Reconciler = (*fakeReconciler)(nil)
	_ Reconciler = (*reconcile.Reconciler)(nil)
)

// set changes what the fake answers.
func (f *fakeReconciler) set(drift []reconcile.Drift, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.drift, f.err = drift, err
}

func (f *fakeReconciler) repaired() []int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int64(nil), f.repairs...)
}

func (f *fakeReconciler) Drift(ctx context.Context, nodeID int64) ([]reconcile.Drift, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.drift, f.err
}

func (f *fakeReconciler) Repair(ctx context.Context, nodeID int64) (reconcile.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.repairs = append(f.repairs, nodeID)
	return reconcile.Result{NodeID: nodeID, Acked: f.err == nil}, f.err
}

// env is a controller API on a real store, a real fleet service and a
// real Authenticator, served by httptest, with user "admin".
type env struct {
	st    *store.Store
	dir   string // holds the database files
	fleet *fleet.Service
	auth  *auth.Authenticator
	clock *testenv.Clock
	logs  *testenv.LogBuffer
	rec   *fakeReconciler
	srv   *httptest.Server
	// traffic is the traffic history service when envOptions.traffic.
	traffic *traffic.Service
}

type envOptions struct {
	noReconciler bool
	// realReconciler serves drift and reconcile with controller/reconcile
	// (without its background workers) instead of a fakeReconciler.
	realReconciler bool
	ui             http.Handler
	sessionTTL     time.Duration
	shareLimit     *auth.LookupLimiter
	// webhooks serves /api/webhooks with a dispatcher on the env's store
	// (not running: deliveries stay queued, tests send).
	webhooks bool
	// traffic serves the traffic history on the env's store, by the env's
	// clock (its rollup not running: tests call Rollup).
	traffic bool
	// demo runs the API as `wg-controller demo`'s.
	demo *Demo
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	ctx := context.Background()
	box, err := secretbox.New(bytes.Repeat([]byte{9}, secretbox.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	st, err := store.Open(ctx, filepath.Join(dir, "controller.db"), box)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := auth.Bootstrap(ctx, st, adminPassword, io.Discard); err != nil {
		t.Fatal(err)
	}
	e := &env{st: st, dir: dir, clock: testenv.NewClock(time.Now()), logs: &testenv.LogBuffer{}, rec: &fakeReconciler{}}
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var rec Reconciler = e.rec
	var syncer fleet.Syncer
	switch {
	case o.noReconciler:
		rec = nil
	case o.realReconciler:
		real := reconcile.New(reconcile.Config{
			Store: st, Clients: agentclient.NewPool(agentclient.PoolOptions{Timeout: 5 * time.Second}), Logger: log,
		})
		rec, syncer = real, real
	}
	e.fleet = fleet.New(fleet.Config{Store: st, Syncer: syncer, Logger: log, AgentTimeout: 5 * time.Second})
	if e.auth, err = auth.New(auth.Config{Store: st, Logger: log, Now: e.clock.Now, SessionTTL: o.sessionTTL}); err != nil {
		t.Fatal(err)
	}
	var hooks *webhook.Dispatcher
	if o.webhooks {
		hooks = webhook.New(webhook.Config{Store: st, Logger: log, Timeout: 5 * time.Second})
	}
	if o.traffic {
		e.traffic = traffic.New(traffic.Config{Store: st, Now: e.clock.Now, Logger: log})
	}
	e.srv = httptest.NewServer(New(Config{Fleet: e.fleet, Auth: e.auth, Reconciler: rec, Logger: log, UI: o.ui,
		ShareLimit: o.shareLimit, Webhooks: hooks, Traffic: e.traffic, Demo: o.demo}))
	t.Cleanup(e.srv.Close)
	return e
}

// client makes requests to the env's server as one caller.
type client struct {
	e       *env
	hc      *http.Client
	headers map[string]string
	// seen collects every answer body, for tests that scan them.
	seen []seenBody
}

type seenBody struct {
	method, path string
	body         []byte
}

func (e *env) anon() *client {
	jar, _ := cookiejar.New(nil)
	return &client{e: e, hc: &http.Client{Jar: jar}, headers: map[string]string{}}
}

// login signs in as admin; the client sends the session cookie and the
// CSRF token from then on.
func (e *env) login(t testing.TB) *client {
	t.Helper()
	c := e.anon()
	r := c.do(t, "POST", "/api/login", map[string]string{"username": "admin", "password": adminPassword}).want(t, 200)
	var info struct {
		CSRFToken string `json:"csrf_token"`
	}
	r.decode(t, &info)
	c.headers["X-CSRF-Token"] = info.CSRFToken
	return c
}

// tokenClient makes an API token and a client that sends it in header
// ("Authorization" gets "Bearer ").
func (e *env) tokenClient(t testing.TB, header string) *client {
	t.Helper()
	tok, _, err := e.auth.CreateToken(context.Background(), "system", "test-"+header, 0)
	if err != nil {
		t.Fatal(err)
	}
	c := e.anon()
	if header == "Authorization" {
		tok = "Bearer " + tok
	}
	c.headers[header] = tok
	return c
}

type resp struct {
	status int
	header http.Header
	body   []byte
	env    struct {
		Status  bool            `json:"status"`
		Message *string         `json:"message"`
		Detail  string          `json:"detail"`
		Data    json.RawMessage `json:"data"`
	}
}

// do sends a request. body nil sends none; a string or []byte is sent as
// is; anything else as JSON. Bodies are sent as application/json.
func (c *client) do(t testing.TB, method, path string, body any) resp {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, c.e.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	out := resp{status: res.StatusCode, header: res.Header}
	if out.body, err = io.ReadAll(res.Body); err != nil {
		t.Fatal(err)
	}
	c.seen = append(c.seen, seenBody{method, path, out.body})
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(out.body, &out.env); err != nil {
			t.Fatalf("%s %s: answer is not the envelope: %v\n%s", method, path, err, out.body)
		}
		if out.env.Status != (res.StatusCode < 300) && !strings.HasSuffix(path, "/test") {
			t.Errorf("%s %s: HTTP %d with envelope status %v", method, path, res.StatusCode, out.env.Status)
		}
	}
	return out
}

// want fails the test unless the answer has the given status.
func (r resp) want(t testing.TB, status int) resp {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body: %s", r.status, status, r.body)
	}
	return r
}

func (r resp) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.env.Data, v); err != nil {
		t.Fatalf("decoding data: %v\n%s", err, r.body)
	}
}

func (r resp) msg() string {
	if r.env.Message == nil {
		return ""
	}
	return *r.env.Message
}

// detail is the envelope's detail ("" when left out).
func (r resp) detail() string { return r.env.Detail }

// field is data.field of an error answer.
func (r resp) field() string {
	var d struct {
		Field string `json:"field"`
	}
	_ = json.Unmarshal(r.env.Data, &d)
	return d.Field
}

// nodeBody is a valid node for agent a, named name, with pool pool.
func nodeBody(name string, a *agenttest.Agent, pool string) map[string]any {
	return map[string]any{
		"name": name, "agent_url": a.URL, "secret": a.Secret, "wg_interface": a.Iface,
		"endpoint": "vpn.example.com:51820", "ip_pool_cidr": pool,
	}
}

// createNode adds a node for agent a through the API.
func createNode(t testing.TB, c *client, name string, a *agenttest.Agent, pool string) fleet.NodeView {
	t.Helper()
	var n fleet.NodeView
	c.do(t, "POST", "/api/nodes", nodeBody(name, a, pool)).want(t, 201).decode(t, &n)
	return n
}

func createPeer(t testing.TB, c *client, nodeID int64, body map[string]any) fleet.PeerView {
	t.Helper()
	var p fleet.PeerView
	c.do(t, "POST", fmt.Sprintf("/api/nodes/%d/peers", nodeID), body).want(t, 201).decode(t, &p)
	return p
}

// counts is how many rows of each kind the store holds, to show that a
// refused request wrote nothing.
type counts struct{ nodes, peers, audit, tokens int }

func (e *env) counts(t testing.TB) counts {
	t.Helper()
	ctx := context.Background()
	nodes, err := e.st.ListNodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	peers, err := e.st.ListAllPeers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	audit, err := e.st.ListAudit(ctx, store.AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	toks, err := e.st.ListAPITokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return counts{len(nodes), len(peers), len(audit), len(toks)}
}
