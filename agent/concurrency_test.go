package agent_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/agent/agenttest"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// TestConcurrentPeerCreations: 500 signed creations at once all land, none
// is lost, on the device and in the state file.
func TestConcurrentPeerCreations(t *testing.T) {
	const n = 500
	dir := t.TempDir()
	a := agenttest.Start(t, agenttest.Options{StateDir: dir})
	c := a.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := c.Health(ctx); err != nil { // learn capabilities: requests carry nonces
		t.Fatal(err)
	}
	keys := make([]wgtypes.Key, n)
	for i := range keys {
		keys[i] = mustKey(t)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			ip := fmt.Sprintf("10.%d.%d.%d/32", 100+i/65536, (i/256)%256, i%256)
			if _, err := c.AddPeer(ctx, "wg0", agentapi.AddPeerRequest{PublicKey: keys[i].String(), AllowedIPs: []string{ip}}); err != nil {
				errs <- fmt.Errorf("peer %d: %w", i, err)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	d := dumpOf(t, a)
	if len(d.Peers) != n {
		t.Fatalf("device has %d peers, want %d", len(d.Peers), n)
	}
	seen := map[string]bool{}
	for _, p := range d.Peers {
		seen[p.PublicKey] = true
	}
	for i, k := range keys {
		if !seen[k.String()] {
			t.Fatalf("peer %d lost", i)
		}
	}
	if err := a.Stop(); err != nil {
		t.Fatalf("stopping the agent: %v", err)
	}
	b := agenttest.Start(t, agenttest.Options{StateDir: dir, Secret: a.Secret})
	if got := len(dumpOf(t, b).Peers); got != n {
		t.Fatalf("state file restored %d peers, want %d", got, n)
	}
}

// TestConcurrentConflictsRefuseOnlyTheLoser: pairs of peers that claim the
// same address race; in every pair exactly one lands and the other gets
// 409, whatever batch they fall into.
func TestConcurrentConflictsRefuseOnlyTheLoser(t *testing.T) {
	const pairs = 100
	a := agenttest.Start(t, agenttest.Options{})
	c := a.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.Health(ctx); err != nil {
		t.Fatal(err)
	}
	// Keys are made here: a spawned goroutine must not call t.Fatal.
	keys := make([][2]wgtypes.Key, pairs)
	for i := range keys {
		keys[i] = [2]wgtypes.Key{mustKey(t), mustKey(t)}
	}
	var wg sync.WaitGroup
	results := make([][2]error, pairs)
	for i := 0; i < pairs; i++ {
		for j := 0; j < 2; j++ {
			wg.Add(1)
			go func(i, j int) {
				defer wg.Done()
				ip := fmt.Sprintf("10.200.%d.%d/32", i/256, i%256)
				_, results[i][j] = c.AddPeer(ctx, "wg0", agentapi.AddPeerRequest{PublicKey: keys[i][j].String(), AllowedIPs: []string{ip}})
			}(i, j)
		}
	}
	wg.Wait()
	for i, r := range results {
		ok0, ok1 := r[0] == nil, r[1] == nil
		if ok0 == ok1 {
			t.Fatalf("pair %d: results %v / %v, want exactly one success", i, r[0], r[1])
		}
		loser := r[0]
		if ok0 {
			loser = r[1]
		}
		if !errors.Is(loser, agentapi.ErrConflict) {
			t.Fatalf("pair %d: loser got %v, want 409", i, loser)
		}
	}
	if got := len(dumpOf(t, a).Peers); got != pairs {
		t.Fatalf("device has %d peers, want %d", got, pairs)
	}
}
