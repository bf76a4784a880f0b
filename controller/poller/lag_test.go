package poller

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/agentclient"
	"github.com/wgfleet/wgfleet/controller/reconcile"
	"github.com/wgfleet/wgfleet/controller/store/storetest"
)

// gate is an http.RoundTripper that holds every request changing an
// agent (anything but GET) until it is opened.
type gate struct {
	open chan struct{}
	once sync.Once
}

func (g *gate) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method != http.MethodGet {
		select {
		case <-g.open:
		case <-r.Context().Done():
			return nil, r.Context().Err()
		}
	}
	return http.DefaultTransport.RoundTrip(r)
}

func (g *gate) release() { g.once.Do(func() { close(g.open) }) }

// cycleRecords keeps one attribute, key, of the poller's "poll cycle"
// records, each read by get.
type cycleRecords[T any] struct {
	key  string
	get  func(slog.Value) T
	mu   sync.Mutex
	vals []T
}

// cycleStarts keeps when each cycle started.
func cycleStarts() *cycleRecords[time.Time] {
	return &cycleRecords[time.Time]{key: "started", get: slog.Value.Time}
}

func (c *cycleRecords[T]) Enabled(context.Context, slog.Level) bool { return true }
func (c *cycleRecords[T]) WithAttrs([]slog.Attr) slog.Handler       { return c }
func (c *cycleRecords[T]) WithGroup(string) slog.Handler            { return c }
func (c *cycleRecords[T]) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "poll cycle" {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == c.key {
			c.mu.Lock()
			c.vals = append(c.vals, c.get(a.Value))
			c.mu.Unlock()
		}
		return true
	})
	return nil
}

func (c *cycleRecords[T]) snapshot() []T {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]T(nil), c.vals...)
}

// TestCyclesKeepTimeWhileReconcilesLag: a cycle's reconciles that cannot
// finish (the agent's writes are held) do not hold up the next cycles'
// polls, which keep polling the node (and offering its newest peer list to
// the one reconcile waiting for it); once the writes go through, the node
// converges and every cycle's record comes, in the order the cycles
// started.
func TestCyclesKeepTimeWhileReconcilesLag(t *testing.T) {
	f := newFixture(t)
	g := &gate{open: make(chan struct{})}
	t.Cleanup(g.release) // before the poller and reconciler stop (cleanups run last first)
	f.pool = agentclient.NewPool(agentclient.PoolOptions{Timeout: time.Minute, HTTPClient: &http.Client{Transport: g}})
	fake := agenttest.StartFake(t, agenttest.FakeOptions{})
	n := f.addNode("lagging", fake.URL, fake.Secret, "wg0")
	for range 3 {
		f.addPeer(n.ID)
	}
	r := reconcile.New(reconcile.Config{Store: f.store, Clients: f.pool, Logger: f.log})
	f.run(r.Run)
	records := cycleStarts()
	p := New(Config{Store: f.store, Clients: f.pool, Reconciler: r, Logger: slog.New(records),
		Interval: 20 * time.Millisecond, Jitter: -1})
	f.run(p.Run)

	// The first cycle's reconcile holds its replace-all; three more
	// cycles poll meanwhile.
	waitUntil(t, "three cycles after the first while its reconcile is held", func() bool {
		return fake.Calls(agenttest.OpHealth) >= 4
	})
	if got := len(fake.Peers("wg0")); got != 0 || len(records.snapshot()) != 0 {
		t.Fatalf("test broken: the agent has %d peers, %d cycles recorded, with its writes held", got, len(records.snapshot()))
	}
	g.release()
	waitUntil(t, "the peers on the agent", func() bool { return len(fake.Peers("wg0")) == 3 })
	waitUntil(t, "four cycle records", func() bool { return len(records.snapshot()) >= 4 })
	starts := records.snapshot()
	for i := 1; i < len(starts); i++ {
		if starts[i].Before(starts[i-1]) {
			t.Fatalf("cycle records out of the order the cycles started: %v", starts)
		}
	}
}

// waitUntil polls cond every 5 ms; it fails the test, naming what, after
// 30 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30 s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestReadsDoNotWaitForRecords: polls whose records wait for the store's
// writer (held here, as a burst of changes keeps it busy) do not hold up
// the reads of the next nodes: with one reader, four nodes' agents are
// read while none of their records can be written; then the records go
// through and the cycle counts every node online.
func TestReadsDoNotWaitForRecords(t *testing.T) {
	f := newFixture(t)
	fake := agenttest.StartFake(t, agenttest.FakeOptions{})
	for i := range RecordFactor {
		f.addNode(fmt.Sprintf("held-%d", i), fake.URL, fake.Secret, "wg0")
	}
	p := f.poller(Config{Workers: 1})
	// A first poll records what the agents' first answers taught (their
	// path family), which a later read does not write again.
	if sum := p.PollOnce(f.ctx); sum.Online != RecordFactor {
		t.Fatalf("first poll: %+v", sum)
	}
	fake.Reset()
	release := storetest.HoldWriter(t, f.ctx, f.store)
	sums := make(chan Summary, 1)
	go func() { sums <- p.PollOnce(f.ctx) }()
	waitUntil(t, "every node's agent read while the writer is held", func() bool {
		return fake.Calls(agenttest.OpDump) >= RecordFactor
	})
	if err := release(); err != nil {
		t.Fatal(err)
	}
	if sum := <-sums; sum.Online != RecordFactor {
		t.Fatalf("summary %+v, want %d online", sum, RecordFactor)
	}
}
