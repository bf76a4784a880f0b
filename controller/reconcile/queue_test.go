package reconcile

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/store"
)

func TestQueueCoalesces(t *testing.T) {
	q := newQueue()
	for range 100 {
		q.push(1)
		q.push(2)
	}
	if q.len() != 2 {
		t.Fatalf("queue holds %d, want 2", q.len())
	}
	id, ok := q.pop()
	if !ok || id != 1 {
		t.Fatalf("pop = %d %v", id, ok)
	}
	// Triggered while running: queued once more, after the run.
	for range 10 {
		q.push(1)
	}
	if q.len() != 1 {
		t.Fatalf("a running node was queued beside its run: len %d", q.len())
	}
	q.finish(1)
	if q.len() != 2 {
		t.Fatalf("after the run: len %d, want 2 (node 2, node 1 again)", q.len())
	}
	if id, _ := q.pop(); id != 2 {
		t.Fatalf("order: got %d first", id)
	}
	q.finish(2)
	if id, _ := q.pop(); id != 1 {
		t.Fatal("node 1 not queued again")
	}
	q.finish(1)
	if q.len() != 0 {
		t.Fatal("a run without a trigger queued its node again")
	}
	q.close()
	q.push(3)
	if q.len() != 0 {
		t.Fatal("push after close queued")
	}
}

func TestTriggersRunInBackground(t *testing.T) {
	f := newFixture(t, 0)
	var agents []*agenttest.Agent
	var nodes []store.Node
	for i := range 3 {
		a := agenttest.Start(t, agenttest.Options{})
		n := f.addNode("n"+string(rune('a'+i)), a, store.DriftRepair)
		f.addPeers(n.ID, 3)
		agents, nodes = append(agents, a), append(nodes, n)
	}
	// Many triggers before Start: one reconcile per node.
	for range 50 {
		for _, n := range nodes {
			f.r.Trigger(n.ID)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f.r.Start(ctx)
	f.r.Start(ctx) // a second Start does nothing

	waitFor(t, func() bool {
		for _, n := range nodes {
			if nd := f.node(n.ID); nd.AckedGeneration != nd.DesiredGeneration {
				return false
			}
		}
		return true
	})
	time.Sleep(50 * time.Millisecond) // room for any extra run to show up
	if got := f.rec.count("GET dump"); got != len(nodes) {
		t.Fatalf("%d reconciles for %d nodes triggered 50 times each", got, len(nodes))
	}
	for i, a := range agents {
		f.assertConverged(a, nodes[i].ID)
	}

	// A change and a trigger later: picked up.
	f.addPeers(nodes[0].ID, 1)
	f.r.Trigger(nodes[0].ID)
	waitFor(t, func() bool { nd := f.node(nodes[0].ID); return nd.AckedGeneration == nd.DesiredGeneration })
	f.assertConverged(agents[0], nodes[0].ID)

	f.r.Close()
	f.r.Close()
	select {
	case <-f.r.Done():
	default:
		t.Fatal("Done not closed after Close")
	}
	f.r.Trigger(nodes[0].ID) // dropped, does not block
}

func TestCloseWithoutStart(t *testing.T) {
	f := newFixture(t, 0)
	f.r.Close()
	<-f.r.Done()
	f.r.Start(context.Background()) // after Close: nothing
	f.r.Trigger(1)
}

func TestNodeReconcilesNeverOverlap(t *testing.T) {
	f := newFixture(t, -1)
	a := agenttest.Start(t, agenttest.Options{})
	b := agenttest.Start(t, agenttest.Options{})
	na := f.addNode("a", a, store.DriftRepair)
	nb := f.addNode("b", b, store.DriftRepair)
	f.addPeers(na.ID, 30)
	f.addPeers(nb.ID, 30)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f.r.Start(ctx)

	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := na.ID
			if i%2 == 1 {
				id = nb.ID
			}
			if _, err := f.r.ReconcileNode(ctx, id); err != nil {
				t.Error(err)
			}
			f.r.Trigger(id)
		}()
	}
	wg.Wait()
	waitFor(t, func() bool { return f.r.q.len() == 0 && !f.r.state(na.ID).busy.Load() && !f.r.state(nb.ID).busy.Load() })
	f.rec.mu.Lock()
	maxA, maxB := f.rec.maxIn[a.Addr], f.rec.maxIn[b.Addr]
	f.rec.mu.Unlock()
	if maxA != 1 || maxB != 1 {
		t.Fatalf("requests in flight at once per agent: %d and %d, want 1", maxA, maxB)
	}
	f.assertConverged(a, na.ID)
	f.assertConverged(b, nb.ID)
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
