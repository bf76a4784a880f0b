package reconcile

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/agentclient"
	"github.com/wgfleet/wgfleet/controller/store"
	"github.com/wgfleet/wgfleet/controller/store/storetest"
	"github.com/wgfleet/wgfleet/internal/testenv"
)

func newKey(t testing.TB) wgtypes.Key {
	t.Helper()
	k, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// recorder is an http.RoundTripper that counts the requests sent to
// agents and can run a hook before or after one (to kill an agent in the
// middle of a batch).
type recorder struct {
	next http.RoundTripper

	mu       sync.Mutex
	counts   map[string]int // "METHOD kind", kind in health, dump, peers, peer, sync
	inflight map[string]int // per host
	maxIn    map[string]int
	before   func(r *http.Request) error // may fail the request without sending it
	after    func(r *http.Request) error // may lose the answer
	// answer, when it returns a response, replaces the agent's answer to
	// a request the agent did receive.
	answer func(r *http.Request) *http.Response
}

func newRecorder() *recorder {
	return &recorder{next: http.DefaultTransport, counts: map[string]int{}, inflight: map[string]int{}, maxIn: map[string]int{}}
}

func requestKind(r *http.Request) string {
	p := strings.TrimPrefix(r.URL.EscapedPath(), "/v1")
	switch {
	case p == "/health":
		return "health"
	case strings.HasSuffix(p, "/dump"):
		return "dump"
	case strings.HasSuffix(p, "/peers") && r.Method == http.MethodPut:
		return "sync"
	case strings.HasSuffix(p, "/peers"):
		return "peers"
	}
	return "peer"
}

func (rc *recorder) RoundTrip(r *http.Request) (*http.Response, error) {
	rc.mu.Lock()
	rc.counts[r.Method+" "+requestKind(r)]++
	rc.inflight[r.URL.Host]++
	if rc.inflight[r.URL.Host] > rc.maxIn[r.URL.Host] {
		rc.maxIn[r.URL.Host] = rc.inflight[r.URL.Host]
	}
	before, after, answer := rc.before, rc.after, rc.answer
	rc.mu.Unlock()
	defer func() {
		rc.mu.Lock()
		rc.inflight[r.URL.Host]--
		rc.mu.Unlock()
	}()
	if before != nil {
		if err := before(r); err != nil {
			return nil, err
		}
	}
	resp, err := rc.next.RoundTrip(r)
	if err == nil && answer != nil {
		if other := answer(r); other != nil {
			resp.Body.Close()
			return other, nil
		}
	}
	if err == nil && after != nil {
		if herr := after(r); herr != nil {
			resp.Body.Close()
			return nil, herr
		}
	}
	return resp, err
}

func (rc *recorder) count(key string) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.counts[key]
}

func (rc *recorder) total() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	n := 0
	for _, c := range rc.counts {
		n += c
	}
	return n
}

func (rc *recorder) reset() {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.counts = map[string]int{}
	rc.maxIn = map[string]int{}
}

func (rc *recorder) setHooks(before, after func(*http.Request) error) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.before, rc.after = before, after
}

func (rc *recorder) setAnswer(answer func(*http.Request) *http.Response) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.answer = answer
}

// fixture is a store, a recorder-backed pool, a reconciler and a log.
type fixture struct {
	t     *testing.T
	ctx   context.Context
	store *store.Store
	rec   *recorder
	pool  *agentclient.Pool
	r     *Reconciler
	logs  *testenv.LogBuffer
	// running is set once start ran r.Run.
	running bool
	named   int // peers addPeers named (names are unique per node)
}

// fixtureTimeout bounds each agent call of a fixture. No test here waits
// for it to expire: it only ends a call to a hung agent. A replace-all of
// 150 peers on a real device takes over 5 s under -race on a loaded
// machine, so it is generous.
const fixtureTimeout = 60 * time.Second

func newFixture(t *testing.T, bulkThreshold int) *fixture {
	t.Helper()
	f := &fixture{t: t, ctx: context.Background(), store: storetest.Open(t), rec: newRecorder(), logs: &testenv.LogBuffer{}}
	f.pool = agentclient.NewPool(agentclient.PoolOptions{Timeout: fixtureTimeout, HTTPClient: &http.Client{Transport: f.rec}})
	f.r = New(Config{
		Store: f.store, Clients: f.pool, BulkThreshold: bulkThreshold, Workers: 2,
		Logger: slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	t.Cleanup(func() {
		if os.Getenv("RECONCILE_TEST_LOGS") != "" {
			t.Log("reconciler logs:\n" + f.logs.String())
		}
	})
	return f
}

// addNode registers agent a as a node with the given policy.
func (f *fixture) addNode(name string, a *agenttest.Agent, policy store.DriftPolicy) store.Node {
	f.t.Helper()
	n, err := f.store.CreateNode(f.ctx, store.Node{
		Name: name, AgentURL: a.URL, Secret: []byte(a.Secret), WGInterface: a.Iface,
		IPPool: netip.MustParsePrefix("10.100.0.0/16"), IPPool6: netip.MustParsePrefix("fd00:100::/64"),
		Enabled: true, Weight: 100, DriftPolicy: policy,
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}

// addPeers creates n enabled peers on the node; every third has a
// preshared key and every second a keepalive.
func (f *fixture) addPeers(nodeID int64, n int) []store.Peer {
	f.t.Helper()
	var out []store.Peer
	for i := range n {
		f.named++
		p := store.Peer{NodeID: nodeID, Name: fmt.Sprintf("peer-%d", f.named), PublicKey: newKey(f.t).PublicKey(), Enabled: true}
		if i%3 == 0 {
			psk := newKey(f.t)
			p.PresharedKey = &psk
		}
		if i%2 == 0 {
			p.NodeKeepalive = 25 * time.Second
		}
		if i%3 == 1 {
			// The client config's keepalive, which must never reach
			// the agent.
			p.Keepalive = 40 * time.Second
		}
		got, err := f.store.CreatePeerWithAllocation(f.ctx, p)
		if err != nil {
			f.t.Fatal(err)
		}
		out = append(out, got)
	}
	return out
}

func (f *fixture) node(id int64) store.Node {
	f.t.Helper()
	n, err := f.store.GetNode(f.ctx, id)
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}

func (f *fixture) peers(nodeID int64) []store.Peer {
	f.t.Helper()
	ps, err := f.store.ListPeers(f.ctx, nodeID)
	if err != nil {
		f.t.Fatal(err)
	}
	return ps
}

// start runs the reconciler's background work until the test ends, then
// stops it and fails unless Run returned nil. Later calls do nothing.
func (f *fixture) start() {
	if f.running {
		return
	}
	f.running = true
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- f.r.Run(ctx) }()
	f.t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			f.t.Errorf("Run returned %v", err)
		}
	})
}

// offer offers the node's peers, read at readAt, as the poller does, and
// waits for the background reconcile that uses them.
func (f *fixture) offer(nodeID int64, peers []agentapi.Peer, readAt time.Time) (Result, error) {
	f.t.Helper()
	f.start()
	return f.r.Offer(nodeID, Observation{Peers: peers, ReadAt: readAt}).Wait(f.ctx)
}

func (f *fixture) reconcile(nodeID int64) Result {
	f.t.Helper()
	res, err := f.r.ReconcileNode(f.ctx, nodeID)
	if err != nil {
		f.t.Fatalf("reconcile: %v", err)
	}
	return res
}

// devicePeers reads the agent's WireGuard device itself (not its API), so
// preshared keys can be checked too.
func devicePeers(t testing.TB, a *agenttest.Agent) map[wgtypes.Key]wgtypes.Peer {
	t.Helper()
	ps, err := a.Tunnel(a.Iface).Peers()
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[wgtypes.Key]wgtypes.Peer, len(ps))
	for _, p := range ps {
		if _, dup := out[p.PublicKey]; dup {
			t.Fatalf("peer %s twice on the device", p.PublicKey)
		}
		out[p.PublicKey] = p
	}
	return out
}

// assertConverged checks that the agent's device holds exactly the
// node's enabled peers with their allowed IPs, keepalive and preshared
// key, that every peer is applied, and that the generation is acked.
func (f *fixture) assertConverged(a *agenttest.Agent, nodeID int64) {
	f.t.Helper()
	dev := devicePeers(f.t, a)
	want := 0
	seenIP := map[string]bool{}
	for _, p := range f.peers(nodeID) {
		if p.SyncState != store.SyncApplied {
			f.t.Errorf("peer %s: sync state %s %q", p.Name, p.SyncState, p.SyncError)
		}
		d, on := dev[p.PublicKey]
		if !p.Enabled {
			if on {
				f.t.Errorf("restricted peer %s is on the agent", p.Name)
			}
			continue
		}
		want++
		if !on {
			f.t.Errorf("peer %s missing on the agent", p.Name)
			continue
		}
		var got []string
		for _, n := range d.AllowedIPs {
			pr, _ := netip.ParsePrefix(n.String())
			got = append(got, pr.String())
			if seenIP[pr.String()] {
				f.t.Errorf("allowed IP %s given twice", pr)
			}
			seenIP[pr.String()] = true
		}
		var wantIPs []string
		for _, pr := range p.AllowedIPs {
			wantIPs = append(wantIPs, pr.String())
		}
		if strings.Join(canonicalIPs(got), ",") != strings.Join(canonicalIPs(wantIPs), ",") {
			f.t.Errorf("peer %s: allowed IPs %v, want %v", p.Name, got, wantIPs)
		}
		if d.PersistentKeepaliveInterval != p.NodeKeepalive {
			f.t.Errorf("peer %s: keepalive %v, want the node keepalive %v", p.Name, d.PersistentKeepaliveInterval, p.NodeKeepalive)
		}
		wantPSK := wgtypes.Key{}
		if p.PresharedKey != nil {
			wantPSK = *p.PresharedKey
		}
		if d.PresharedKey != wantPSK {
			f.t.Errorf("peer %s: preshared key differs on the agent", p.Name)
		}
	}
	if len(dev) != want {
		f.t.Errorf("agent has %d peers, want %d", len(dev), want)
	}
	n := f.node(nodeID)
	if n.AckedGeneration != n.DesiredGeneration {
		f.t.Errorf("acked generation %d, desired %d", n.AckedGeneration, n.DesiredGeneration)
	}
}

// assertNoSecrets checks that no preshared or private key, nor the node's
// secret, appears in the logs.
func (f *fixture) assertNoSecrets(secrets ...string) {
	f.t.Helper()
	logs := f.logs.String()
	for _, n := range mustNodes(f) {
		secrets = append(secrets, string(n.Secret))
		for _, p := range f.peers(n.ID) {
			if p.PresharedKey != nil {
				secrets = append(secrets, p.PresharedKey.String())
			}
			if p.PrivateKey != nil {
				secrets = append(secrets, p.PrivateKey.String())
			}
		}
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(logs, s) {
			f.t.Fatalf("a secret appears in the logs")
		}
	}
}

func mustNodes(f *fixture) []store.Node {
	f.t.Helper()
	ns, err := f.store.ListNodes(f.ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	return ns
}

// agentAdd adds a peer on the agent behind the controller's back.
func agentAdd(t testing.TB, a *agenttest.Agent, key wgtypes.Key, ip string) {
	t.Helper()
	ka := 0
	if _, err := a.Client(t).AddPeer(context.Background(), a.Iface, agentapi.AddPeerRequest{
		PublicKey: key.String(), AllowedIPs: []string{ip}, PersistentKeepalive: &ka}); err != nil {
		t.Fatal(err)
	}
}

// pushTogether pushes batch, the node's latest creations in order, each
// at the generation its creation made, as Push does but in one step, so
// they wait in the queue together even while Run's workers are idle (one
// by one, a worker could take the first before the others came). It
// returns the node's desired generation, the last's.
func (f *fixture) pushTogether(nodeID int64, batch []store.Peer) int64 {
	f.t.Helper()
	gen := f.node(nodeID).DesiredGeneration
	ps := make([]pushed, len(batch))
	for i, p := range batch {
		ps[i] = pushed{p.ID, gen - int64(len(batch)-1-i)}
	}
	f.r.pq.push(nodeID, ps...)
	return gen
}
