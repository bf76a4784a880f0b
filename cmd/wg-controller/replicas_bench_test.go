package main

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/internal/testenv/pgtest"
)

// BenchmarkReplicas measures, with real wg-controller processes on one
// throwaway PostgreSQL cluster and a real agent: peer creation over the
// API with one replica and with two (the same clients spread over both,
// the same run), and how long after a kill -9 of the leader the other
// replica leads and has repaired a peer removed from the agent meanwhile.
// -short creates fewer peers.
func BenchmarkReplicas(b *testing.B) {
	cluster := pgtest.Require(b)
	bin := buildController(b)
	peers := 400
	if testing.Short() {
		peers = 120
	}
	const clients = 16
	var one, two, failover, repair float64
	for range b.N {
		one = createRate(b, newReplicaSet(b, bin, cluster.NewDatabase(b)), 1, peers, clients, nil)
		var fo, rp time.Duration
		two = createRate(b, newReplicaSet(b, bin, cluster.NewDatabase(b)), 2, peers, clients, func(rs *replicaSet, ps []*replicaProc, ag *agenttest.Agent, made []replicaPeer) {
			fo, rp = measureFailover(b, rs, ps, ag, made)
		})
		failover, repair = fo.Seconds()*1000, rp.Seconds()*1000
	}
	b.ReportMetric(one, "1-replica-peers/s")
	b.ReportMetric(two, "2-replica-peers/s")
	b.ReportMetric(two/one, "2/1")
	b.ReportMetric(failover, "failover-ms")
	b.ReportMetric(repair, "repair-ms")
	b.ReportMetric(replicaPoll.Seconds(), "poll-s")
	b.ReportMetric(0, "ns/op")
}

// createRate starts n replicas, adds a node for a real agent, and creates
// peers over the API from clients goroutines spread over the replicas; it
// returns the peers created per second, once every one is on the agent,
// then runs after (if any) on the set.
func createRate(b *testing.B, rs *replicaSet, n, peers, clients int, after func(*replicaSet, []*replicaProc, *agenttest.Agent, []replicaPeer)) float64 {
	b.Helper()
	var ps []*replicaProc
	for i := range n {
		ps = append(ps, rs.start(fmt.Sprintf("bench-%d", i), ""))
	}
	rs.leader(4*replicaPoll, ps...)
	ag := agenttest.Start(b, agenttest.Options{})
	var node struct {
		ID int64 `json:"id"`
	}
	if code, raw := rs.call(ps[0], "POST", "/api/nodes", map[string]any{
		"name": "bench-edge", "agent_url": ag.URL, "secret": ag.Secret, "wg_interface": ag.Iface,
		"endpoint": fmt.Sprintf("127.0.0.1:%d", ag.Tunnel(ag.Iface).ListenPort()), "ip_pool_cidr": "10.64.0.0/20", "enabled": true,
	}, &node); code != http.StatusCreated {
		b.Fatalf("create node: %d %s", code, raw)
	}
	var (
		next atomic.Int64
		mu   sync.Mutex
		made []replicaPeer
		wg   sync.WaitGroup
	)
	start := time.Now()
	for c := range clients {
		p := ps[c%len(ps)]
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(peers) {
					return
				}
				var pr replicaPeer
				if code, raw := rs.call(p, "POST", fmt.Sprintf("/api/nodes/%d/peers", node.ID), map[string]any{"name": fmt.Sprint("b", i)}, &pr); code != http.StatusCreated {
					b.Errorf("create peer on %s: %d %s", p.name, code, raw)
					return
				}
				mu.Lock()
				made = append(made, pr)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(made) != peers {
		b.Fatalf("%d peers created, want %d", len(made), peers)
	}
	eventuallyWithin(b, 4*replicaPoll, "every peer on the agent", func() bool { return allOn(b, ag, made) })
	rate := float64(peers) / time.Since(start).Seconds()
	if after != nil {
		after(rs, ps, ag, made)
	}
	return rate
}

// measureFailover kills the leader of ps with SIGKILL, removes a peer from
// the agent, and returns how long until another replica leads and until
// the peer is back.
func measureFailover(b *testing.B, rs *replicaSet, ps []*replicaProc, ag *agenttest.Agent, made []replicaPeer) (leads, repaired time.Duration) {
	b.Helper()
	lead := rs.leader(4*replicaPoll, ps...)
	var rest []*replicaProc
	for _, p := range ps {
		if p != lead {
			rest = append(rest, p)
		}
	}
	killed := time.Now()
	lead.kill()
	if err := ag.Client(b).DeletePeer(b.Context(), ag.Iface, mustKey(b, made[0].PublicKey)); err != nil {
		b.Fatal(err)
	}
	rs.leader(4*replicaPoll, rest...)
	leads = time.Since(killed)
	eventuallyWithin(b, 4*replicaPoll, "the removed peer back", func() bool { return allOn(b, ag, made[:1]) })
	return leads, time.Since(killed)
}
