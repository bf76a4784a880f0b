package poller

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/controller/agentclient"
	"github.com/wgfleet/wgfleet/controller/reconcile"
	"github.com/wgfleet/wgfleet/controller/store"
	"github.com/wgfleet/wgfleet/controller/store/storetest"
	"github.com/wgfleet/wgfleet/internal/testenv"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

type fixture struct {
	t     *testing.T
	ctx   context.Context
	store *store.Store
	pool  *agentclient.Pool
	clock *testenv.Clock
	logs  *testenv.LogBuffer
	log   *slog.Logger
	named int // peers addPeer named (names are unique per node)
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, ctx: context.Background(), store: storetest.Open(t), clock: testenv.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)), logs: &testenv.LogBuffer{}}
	f.pool = agentclient.NewPool(agentclient.PoolOptions{Timeout: 5 * time.Second})
	f.log = slog.New(slog.NewTextHandler(f.logs, nil))
	return f
}

// poller makes a Poller on the fixture; cfg's Store, Clients, Logger and
// Now are filled in.
func (f *fixture) poller(cfg Config) *Poller {
	cfg.Store, cfg.Clients, cfg.Logger, cfg.Now = f.store, f.pool, f.log, f.clock.Now
	if cfg.Interval == 0 {
		cfg.Interval = time.Minute
	}
	return New(cfg)
}

// reconciler makes a Reconciler on the fixture and runs it until the test
// ends.
func (f *fixture) reconciler() *reconcile.Reconciler {
	r := reconcile.New(reconcile.Config{Store: f.store, Clients: f.pool, Logger: f.log})
	f.run(r.Run)
	return r
}

// run runs fn (a Run method) in the background; when the test ends it
// cancels fn's context, waits for fn, and fails unless fn returned nil.
func (f *fixture) run(fn func(context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- fn(ctx) }()
	f.t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			f.t.Errorf("Run returned %v", err)
		}
	})
}

func (f *fixture) addNode(name, url, secret, iface string) store.Node {
	f.t.Helper()
	n, err := f.store.CreateNode(f.ctx, store.Node{
		Name: name, AgentURL: url, Secret: []byte(secret), WGInterface: iface,
		IPPool: netip.MustParsePrefix("10.99.0.0/24"), Enabled: true, Weight: 100,
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}

// addPeer creates an enabled peer with a fresh key on node nodeID, its
// address allocated from the node's pool, and returns it with its key (for
// traffic sent as the peer).
func (f *fixture) addPeer(nodeID int64) (store.Peer, wgtypes.Key) {
	f.t.Helper()
	key, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		f.t.Fatal(err)
	}
	f.named++
	peer, err := f.store.CreatePeerWithAllocation(f.ctx, store.Peer{NodeID: nodeID, Name: fmt.Sprintf("peer-%d", f.named),
		PublicKey: key.PublicKey(), PrivateKey: &key, Enabled: true})
	if err != nil {
		f.t.Fatal(err)
	}
	return peer, key
}

func (f *fixture) node(id int64) store.Node {
	f.t.Helper()
	n, err := f.store.GetNode(f.ctx, id)
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}
