package agent_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/agent/agenttest"
)

// TestKill9At60kPeers: an agent in a process of its own takes 60,000 peers
// in one replace-all, then concurrent additions and removals, and is
// killed by SIGKILL while they are in flight (and maybe while it compacts
// its journal after the replace-all). Started again on the same state
// directory, it holds every change it acknowledged, nothing that was never
// sent, and for the changes in flight either outcome.
func TestKill9At60kPeers(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("runs agents with 60k peers in subprocesses (not under -short or -race)")
	}
	const base, workers = 60000, 4
	dir := t.TempDir()
	secret := agenttest.RandomSecret()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	first := startHelperAgent(t, dir, secret, addr)
	defer func() { _ = first.Process.Kill(); _ = first.Wait() }()
	c, err := agentapi.NewClient(agentapi.ClientConfig{BaseURL: "http://" + addr, Secret: []byte(secret),
		HTTPClient: &http.Client{Timeout: 5 * time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var all agentapi.SyncRequest
	if err := json.Unmarshal(syncBody(t, base+20000, false), &all); err != nil {
		t.Fatal(err)
	}
	initial, extra := all.Peers[:base], all.Peers[base:]
	if _, err := c.SyncPeers(ctx, "wg0", agentapi.SyncRequest{Peers: initial}); err != nil {
		t.Fatalf("replace-all of %d peers: %v", base, err)
	}

	// Each worker adds peers of extra and removes peers of initial, one
	// request at a time, and records what it sent and what was answered.
	var (
		mu                  sync.Mutex
		sent, acked         = map[string]bool{}, map[string]bool{} // keys added
		removing, removed   = map[string]bool{}, map[string]bool{} // keys removed
		ackCount            int
		wg                  sync.WaitGroup
		stop                = make(chan struct{})
		killAfter           = 50 + rand.IntN(400)
		killNow             = make(chan struct{})
		killOnce, closeStop sync.Once
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := w; ; n += workers {
				select {
				case <-stop:
					return
				default:
				}
				add, del := extra[n%len(extra)], initial[n]
				k, err := agentapi.ParseKey(del.PublicKey)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				sent[add.PublicKey], removing[del.PublicKey] = true, true
				mu.Unlock()
				_, aerr := c.AddPeer(ctx, "wg0", agentapi.AddPeerRequest{PublicKey: add.PublicKey, AllowedIPs: add.AllowedIPs})
				derr := c.DeletePeer(ctx, "wg0", k)
				mu.Lock()
				if aerr == nil {
					acked[add.PublicKey] = true
					ackCount++
				}
				if derr == nil {
					removed[del.PublicKey] = true
				}
				if ackCount >= killAfter {
					killOnce.Do(func() { close(killNow) })
				}
				mu.Unlock()
				if aerr != nil || derr != nil {
					return // the agent is gone
				}
			}
		}()
	}
	select {
	case <-killNow:
	case <-time.After(3 * time.Minute):
		t.Error("the changes did not get going")
	}
	if err := first.Process.Kill(); err != nil { // SIGKILL, requests in flight
		t.Fatal(err)
	}
	_ = first.Wait()
	closeStop.Do(func() { close(stop) })
	wg.Wait()

	second := startHelperAgent(t, dir, secret, addr)
	defer func() { _ = second.Process.Kill(); _ = second.Wait() }()
	d, err := c.Dump(ctx, "wg0")
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, p := range d.Peers {
		have[p.PublicKey] = true
	}
	mu.Lock()
	defer mu.Unlock()
	var lost, kept, unsent, missing int
	var example error
	for _, p := range initial {
		switch k := p.PublicKey; {
		case removed[k] && have[k]:
			kept++
			example = errors.Join(example, fmt.Errorf("acknowledged removal of %s undone", k))
		case !removing[k] && !have[k]:
			missing++
			example = errors.Join(example, fmt.Errorf("peer %s of the replace-all lost", k))
		}
	}
	for _, p := range extra {
		switch k := p.PublicKey; {
		case acked[k] && !have[k]:
			lost++
			example = errors.Join(example, fmt.Errorf("acknowledged addition of %s lost", k))
		case !sent[k] && have[k]:
			unsent++
			example = errors.Join(example, fmt.Errorf("peer %s never sent is there", k))
		}
	}
	if lost+kept+unsent+missing > 0 || len(have) > len(initial)+len(extra) {
		t.Fatalf("after SIGKILL: %d acknowledged additions lost, %d acknowledged removals undone, %d peers never sent present, %d replace-all peers lost; e.g. %v",
			lost, kept, unsent, missing, errors.Unwrap(example))
	}
	t.Logf("killed after %d acknowledged additions (%d sent) and %d removals; %d peers after restart", len(acked), len(sent), len(removed), len(d.Peers))
}
