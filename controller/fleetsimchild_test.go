package controller_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"testing"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agentapi"
)

// TestSimFleetInChildProcesses holds BenchmarkControllerFleet's simulated
// agents in child processes to the same agents in this process: the same
// calls, signed as the controller signs them, are counted alike (one
// connection a node, the polls, the keys that reached their agent), and a
// call with another node's secret is refused by the real verifier in the
// child and counted as nothing.
func TestSimFleetInChildProcesses(t *testing.T) {
	const nodes = 4
	type outcome struct {
		accepts, minPolls, arrivals int
	}
	run := func(t *testing.T, procs int) outcome {
		sim := startSimFleet(t, nodes, procs)
		if len(sim.nodes) != nodes {
			t.Fatalf("procs=%d: %d simulated agents, want %d", procs, len(sim.nodes), nodes)
		}
		tr := &http.Transport{}
		t.Cleanup(tr.CloseIdleConnections)
		hc := &http.Client{Transport: tr}
		ctx := context.Background()
		var keys []string
		newKey := func() string {
			k, err := wgtypes.GenerateKey()
			if err != nil {
				t.Fatal(err)
			}
			keys = append(keys, k.String())
			return k.String()
		}
		client := func(node int, secret string) *agentapi.Client {
			c, err := agentapi.NewClient(agentapi.ClientConfig{BaseURL: sim.nodes[node].url, Secret: []byte(secret), HTTPClient: hc})
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		for i, n := range sim.nodes {
			c := client(i, n.secret)
			for range 2 {
				if _, err := c.Health(ctx); err != nil {
					t.Fatalf("procs=%d, node %d: %v", procs, i, err)
				}
			}
			if _, err := c.AddPeer(ctx, "wg0", agentapi.AddPeerRequest{PublicKey: newKey(), AllowedIPs: []string{fmt.Sprintf("10.0.0.%d/32", i+1)}}); err != nil {
				t.Fatalf("procs=%d, node %d: %v", procs, i, err)
			}
		}
		if _, err := client(1, sim.nodes[1].secret).SyncPeers(ctx, "wg0", agentapi.SyncRequest{Peers: []agentapi.PeerSpec{
			{PublicKey: newKey(), AllowedIPs: []string{"10.0.1.1/32"}}, {PublicKey: newKey(), AllowedIPs: []string{"10.0.1.2/32"}},
		}}); err != nil {
			t.Fatalf("procs=%d: %v", procs, err)
		}
		k, err := wgtypes.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		wrong := client(2, sim.nodes[3].secret)
		if _, err := wrong.AddPeer(ctx, "wg0", agentapi.AddPeerRequest{PublicKey: k.String(), AllowedIPs: []string{"10.0.2.1/32"}}); !errors.Is(err, agentapi.ErrUnauthorized) {
			t.Fatalf("procs=%d: a call signed with another node's secret: %v, want ErrUnauthorized", procs, err)
		}
		st := sim.stats(t)
		arrived := sim.arrived(t)
		slices.Sort(keys)
		if got := slices.Sorted(maps.Keys(arrived)); !slices.Equal(got, keys) {
			t.Errorf("procs=%d: arrived keys %q, want those sent %q", procs, got, keys)
		}
		for k, at := range arrived {
			if at.After(st.last) {
				t.Errorf("procs=%d: key %s arrived at %v, after the last arrival %v", procs, k, at, st.last)
			}
		}
		return outcome{accepts: int(st.accepts), minPolls: st.minPolls, arrivals: st.arrivals}
	}
	want := outcome{accepts: nodes, minPolls: 2, arrivals: nodes + 2}
	for _, procs := range []int{0, 2} {
		if got := run(t, procs); got != want {
			t.Errorf("procs=%d: %+v, want %+v", procs, got, want)
		}
	}
}
