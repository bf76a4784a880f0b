package reconcile

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/store"
)

func TestQueueCoalesces(t *testing.T) {
	q := newQueue()
	for range 100 {
		q.push(1, nil, false)
		q.push(2, nil, false)
	}
	if q.len() != 2 {
		t.Fatalf("queue holds %d, want 2", q.len())
	}
	j, ok := q.pop()
	if !ok || j.id != 1 {
		t.Fatalf("pop = %+v %v", j, ok)
	}
	// Triggered while running: queued once more, after the run.
	for range 10 {
		q.push(1, nil, false)
	}
	if q.len() != 1 {
		t.Fatalf("a running node was queued beside its run: len %d", q.len())
	}
	q.finish(1)
	if q.len() != 2 {
		t.Fatalf("after the run: len %d, want 2 (node 2, node 1 again)", q.len())
	}
	if j, _ := q.pop(); j.id != 2 {
		t.Fatalf("order: got %d first", j.id)
	}
	q.finish(2)
	if j, _ := q.pop(); j.id != 1 {
		t.Fatal("node 1 not queued again")
	}
	q.finish(1)
	if q.len() != 0 {
		t.Fatal("a run without a trigger queued its node again")
	}
	q.close()
	j = q.push(3, nil, false)
	if q.len() != 0 {
		t.Fatal("push after close queued")
	}
	select {
	case <-j.done:
		if !errors.Is(j.err, ErrStopped) {
			t.Fatalf("push after close ended with %v, want ErrStopped", j.err)
		}
	default:
		t.Fatal("push after close: its job never ends")
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
	errc := make(chan error, 1)
	go func() { errc <- f.r.Run(ctx) }()

	waitFor(t, func() bool {
		for _, n := range nodes {
			if nd := f.node(n.ID); nd.AckedGeneration != nd.DesiredGeneration {
				return false
			}
		}
		return true
	})
	time.Sleep(50 * time.Millisecond) // room for any extra run to show up
	// Each reconcile reads the peers twice: before its changes and after
	// them (a change counts only when a dump shows it).
	if got := f.rec.count("GET dump"); got != 2*len(nodes) {
		t.Fatalf("%d peer reads for %d nodes triggered 50 times each, want %d (one reconcile each)", got, len(nodes), 2*len(nodes))
	}
	for i, a := range agents {
		f.assertConverged(a, nodes[i].ID)
	}

	// A change and a trigger later: picked up.
	f.addPeers(nodes[0].ID, 1)
	f.r.Trigger(nodes[0].ID)
	waitFor(t, func() bool { nd := f.node(nodes[0].ID); return nd.AckedGeneration == nd.DesiredGeneration })
	f.assertConverged(agents[0], nodes[0].ID)

	if err := f.r.Run(ctx); err == nil {
		t.Fatal("a second Run started")
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("Run returned %v after its context ended", err)
	}
	f.r.Trigger(nodes[0].ID) // dropped, does not block
	if _, err := f.r.Offer(nodes[0].ID, Observation{}).Wait(context.Background()); !errors.Is(err, ErrStopped) {
		t.Fatalf("offer after Run returned: %v, want ErrStopped", err)
	}
}

func TestRunWithEndedContext(t *testing.T) {
	f := newFixture(t, 0)
	waiting := f.r.Offer(1, Observation{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := f.r.Run(ctx); err != nil {
		t.Fatalf("Run returned %v", err)
	}
	if _, err := waiting.Wait(context.Background()); !errors.Is(err, ErrStopped) {
		t.Fatalf("offer waiting when Run returned: %v, want ErrStopped", err)
	}
	f.r.Trigger(1) // dropped, does not block
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
	f.start()

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
	waitFor(t, func() bool { // nothing waiting, nothing running
		f.r.q.mu.Lock()
		defer f.r.q.mu.Unlock()
		return len(f.r.q.nodes) == 0
	})
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

func TestQueueKeepsNewestObservation(t *testing.T) {
	q := newQueue()
	t0 := time.Now()
	older, newer := &Observation{ReadAt: t0}, &Observation{ReadAt: t0.Add(time.Second)}
	j := q.push(1, newer, false)
	if q.push(1, older, false) != j || q.push(1, nil, false) != j {
		t.Fatal("a waiting node got a second job")
	}
	if j.obs != newer {
		t.Fatal("an older read or a trigger replaced the newest read")
	}
	if got, _ := q.pop(); got != j {
		t.Fatal("pop returned another job")
	}
	// Offered while running: a job of its own, after the run.
	next := q.push(1, older, false)
	if next == j || next.obs != older || q.len() != 0 {
		t.Fatalf("offer during a run: same job %v, obs %v, %d waiting beside the run", next == j, next.obs, q.len())
	}
	q.finish(1)
	if got, _ := q.pop(); got != next {
		t.Fatal("the job offered during the run did not follow it")
	}
	q.close()
	q.finish(1)
	select {
	case <-j.done:
		t.Fatal("the queue ended a job a worker ran")
	default:
	}
}
