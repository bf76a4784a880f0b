package reconcile

import (
	"context"
	"fmt"
	"net/netip"
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
)

// benchFleet is nodes in a real store, each with an in-memory agent
// (agenttest.Fake): a hundred real devices would measure wireguard-go
// rather than the reconciler. The behaviour tests use real agents.
type benchFleet struct {
	r      *Reconciler
	nodes  []store.Node
	agents []*agenttest.Fake
	keys   [][]wgtypes.Key // per node, the public keys of its peers
}

func newBenchFleet(tb testing.TB, nodes, peersPerNode int) *benchFleet {
	tb.Helper()
	ctx := context.Background()
	st := storetest.Open(tb)
	fl := &benchFleet{r: New(Config{Store: st, Clients: agentclient.NewPool(agentclient.PoolOptions{})})}
	for i := range nodes {
		a := agenttest.StartFake(tb, agenttest.FakeOptions{})
		n, err := st.CreateNode(ctx, store.Node{
			Name: fmt.Sprintf("node-%03d", i), AgentURL: a.URL, Secret: []byte(a.Secret),
			IPPool: netip.MustParsePrefix("10.64.0.0/16"), Enabled: true, Weight: 100,
		})
		if err != nil {
			tb.Fatal(err)
		}
		var keys []wgtypes.Key
		err = st.InTx(ctx, func(tx *store.Tx) error {
			for j := range peersPerNode {
				p := store.Peer{NodeID: n.ID, Name: fmt.Sprintf("peer-%d", j), PublicKey: newKey(tb).PublicKey(), Enabled: true, NodeKeepalive: 25 * time.Second}
				if j%3 == 0 {
					psk := newKey(tb)
					p.PresharedKey = &psk
				}
				if _, err := tx.CreatePeerWithAllocation(ctx, p); err != nil {
					return err
				}
				keys = append(keys, p.PublicKey)
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
		fl.nodes, fl.agents, fl.keys = append(fl.nodes, n), append(fl.agents, a), append(fl.keys, keys)
	}
	return fl
}

// reconcileAll reconciles every node through Workers goroutines and
// returns the agent calls made.
func (fl *benchFleet) reconcileAll(tb testing.TB) int {
	ids := make(chan int64)
	var (
		mu    sync.Mutex
		calls int
		wg    sync.WaitGroup
	)
	for range fl.r.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range ids {
				res, err := fl.r.ReconcileNode(context.Background(), id)
				if err != nil {
					tb.Error(err)
				}
				mu.Lock()
				calls += res.Calls
				mu.Unlock()
			}
		}()
	}
	for _, n := range fl.nodes {
		ids <- n.ID
	}
	close(ids)
	wg.Wait()
	return calls
}

// drift changes percent% of every agent's peers behind the controller's
// back, a different slice of them on each round: about 40% removed, 30%
// changed keepalive, 30% strangers added.
func (fl *benchFleet) drift(tb testing.TB, percent, round int) int {
	per := len(fl.keys[0]) * percent / 100
	if per == 0 {
		return 0
	}
	removed, changed := per*4/10, per*3/10
	for i, a := range fl.agents {
		keys := fl.keys[i]
		var strangers []wgtypes.Key
		for range per - removed - changed {
			strangers = append(strangers, newKey(tb).PublicKey())
		}
		a.Edit("wg0", func(peers map[wgtypes.Key]agentapi.Peer) {
			base := round * per
			for j := range removed {
				delete(peers, keys[(base+j)%len(keys)])
			}
			for j := range changed {
				k := keys[(base+removed+j)%len(keys)]
				p := peers[k]
				p.PersistentKeepalive = 5
				peers[k] = p
			}
			for j, k := range strangers {
				peers[k] = agentapi.Peer{PublicKey: k.String(), AllowedIPs: []string{fmt.Sprintf("10.250.%d.%d/32", round%250, j+1)}}
			}
		})
	}
	return per
}

func (fl *benchFleet) checkConverged(tb testing.TB) {
	tb.Helper()
	for i, a := range fl.agents {
		if n := len(a.Peers("wg0")); n != len(fl.keys[i]) {
			tb.Fatalf("node %d: agent holds %d peers, want %d", i, n, len(fl.keys[i]))
		}
	}
}

// BenchmarkReconcileFleet reconciles 100 nodes with 1,000 peers each
// (10 nodes with -short) where 1% of every agent's peers drifted, against
// a baseline of 0% measured in the same run; -v prints a table of both.
// Setting up the store takes about a minute; the agents are in-memory
// fakes speaking the signed wire contract (agenttest.Fake). One op is
// one reconcile of the whole fleet, Workers nodes at a time.
func BenchmarkReconcileFleet(b *testing.B) {
	nodes, peers := 100, 1000
	if testing.Short() {
		nodes = 10
	}
	fl := newBenchFleet(b, nodes, peers)
	fl.reconcileAll(b) // first push: every agent starts empty
	fl.checkConverged(b)

	type row struct {
		name                  string
		nsPerOp, callsPerNode float64
		driftPerNode          int
	}
	var rows []row
	for _, percent := range []int{0, 1} {
		var last row
		name := fmt.Sprintf("drift=%d%%", percent)
		b.Run(name, func(b *testing.B) {
			calls, drifted := 0, 0
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				drifted = fl.drift(b, percent, i)
				b.StartTimer()
				calls += fl.reconcileAll(b)
			}
			b.StopTimer()
			fl.checkConverged(b)
			perNode := float64(calls) / float64(b.N) / float64(nodes)
			b.ReportMetric(float64(calls)/float64(b.N), "calls/op")
			b.ReportMetric(perNode, "calls/node")
			b.ReportMetric(float64(drifted), "drifted/node")
			last = row{name, float64(b.Elapsed().Nanoseconds()) / float64(b.N), perNode, drifted}
		})
		rows = append(rows, last)
	}
	var t strings.Builder
	fmt.Fprintf(&t, "reconcile of %d nodes x %d peers (one op = the whole fleet)\n", nodes, peers)
	fmt.Fprintf(&t, "%-9s %14s %10s %11s %13s %9s\n", "case", "ns/op", "ms/node", "calls/node", "drifted/node", "x base")
	for _, r := range rows {
		fmt.Fprintf(&t, "%-9s %14.0f %10.2f %11.2f %13d %9.2f\n", r.name, r.nsPerOp,
			r.nsPerOp/1e6/float64(nodes), r.callsPerNode, r.driftPerNode, r.nsPerOp/rows[0].nsPerOp)
	}
	b.Log("\n" + t.String())
}

// TestFakeAgentConverges holds the benchmark's fake agent to the real
// reconciler's expectations, on a small fleet, both call strategies.
func TestFakeAgentConverges(t *testing.T) {
	fl := newBenchFleet(t, 2, 40)
	fl.reconcileAll(t)
	fl.checkConverged(t)
	for round, percent := range []int{5, 25} { // 2 changes: one by one; 10: replace-all
		per := fl.drift(t, percent, round)
		for _, n := range fl.nodes {
			res, err := fl.r.ReconcileNode(context.Background(), n.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Drift) != per || res.Bulk != (per >= DefaultBulkThreshold) {
				t.Fatalf("%d%%: result %+v, want %d drift", percent, res, per)
			}
		}
		fl.checkConverged(t)
		for _, n := range fl.nodes {
			if d, err := fl.r.Drift(context.Background(), n.ID); err != nil || len(d) != 0 {
				t.Fatalf("drift left: %+v %v", d, err)
			}
		}
	}
}
