package agent

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"runtime"
	"sync"
	"testing"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/tunnel"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// startDirectIface is an interface on a real netstack device with its
// committer running, and the directory of its store.
func startDirectIface(t *testing.T, name string) (*iface, string) {
	t.Helper()
	priv, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	tun, err := tunnel.NewNetstack(tunnel.Config{Name: name, PrivateKey: priv, Addresses: []netip.Prefix{netip.MustParsePrefix("10.97.0.1/24")}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tun.Close() })
	dir := t.TempDir()
	i, err := restoreIface(name, dir, tun, discardLog())
	if err != nil {
		t.Fatal(err)
	}
	i.start()
	return i, dir
}

// waitIdle waits until the committer waits for a change with none in
// hand, when a request commits its change itself.
func waitIdle(i *iface) {
	for !i.idle.Load() {
		runtime.Gosched()
	}
}

// devicePeers is what the device holds, in the store's terms.
func devicePeers(t *testing.T, tun *tunnel.Tunnel) peerSet {
	t.Helper()
	peers, err := tun.Peers()
	if err != nil {
		t.Fatal(err)
	}
	out := peerSet{}
	for _, p := range peers {
		c := peerConf{Key: p.PublicKey}
		for _, a := range p.AllowedIPs {
			pfx, ok := netip.AddrFromSlice(a.IP)
			ones, _ := a.Mask.Size()
			if !ok {
				t.Fatalf("peer %s: allowed IP %v", p.PublicKey, a)
			}
			c.AllowedIPs = append(c.AllowedIPs, netip.PrefixFrom(pfx.Unmap(), ones))
		}
		out[c.Key] = c
	}
	return out
}

// TestIdleCommitterLetsTheRequestCommit: changes made one at a time, each
// while the committer is idle, are committed by their requests
// themselves (every one counted as direct), with the answers the
// committer gives (conflict, not found, overlap refused; the rest
// applied), and leave the device, the peer set and the journal read back
// from disk all holding what an oracle of the same changes holds.
func TestIdleCommitterLetsTheRequestCommit(t *testing.T) {
	i, dir := startDirectIface(t, "wgdc0")
	want := peerSet{}
	ip := func(s string) []netip.Prefix { return []netip.Prefix{netip.MustParsePrefix(s)} }
	type step struct {
		name   string
		do     func() error
		status int    // 0: applied
		oracle func() // what an applied change does to want
	}
	var steps []step
	for n := range 6 {
		p := nthPeer(n + 1)
		steps = append(steps, step{fmt.Sprintf("add %d", n), func() error { return i.addPeer(p, nil) }, 0, func() { want[p.Key] = p }})
	}
	dup := nthPeer(1)
	overlap := peerConf{Key: nthPeer(100).Key, AllowedIPs: nthPeer(2).AllowedIPs}
	moved := nthPeer(3)
	moved.AllowedIPs = ip("10.98.0.0/24")
	newIPs := []string{"10.98.0.0/24"}
	steps = append(steps, []step{
		{"add twice", func() error { return i.addPeer(dup, nil) }, http.StatusConflict, nil},
		{"add overlapping", func() error { return i.addPeer(overlap, nil) }, http.StatusConflict, nil},
		{"remove missing", func() error { return i.removePeer(nthPeer(200).Key, nil) }, http.StatusNotFound, nil},
		{"update missing", func() error {
			return i.updatePeer(nthPeer(201).Key, agentapi.UpdatePeerRequest{AllowedIPs: &newIPs}, nil)
		}, http.StatusNotFound, nil},
		{"update", func() error {
			return i.updatePeer(moved.Key, agentapi.UpdatePeerRequest{AllowedIPs: &newIPs}, nil)
		}, 0, func() { want[moved.Key] = moved }},
		{"remove", func() error { return i.removePeer(nthPeer(4).Key, nil) }, 0, func() { delete(want, nthPeer(4).Key) }},
		{"add back", func() error { return i.addPeer(nthPeer(4), nil) }, 0, func() { want[nthPeer(4).Key] = nthPeer(4) }},
	}...)

	for n, s := range steps {
		waitIdle(i)
		before := i.counts.direct.Load()
		err := s.do()
		if got := i.counts.direct.Load() - before; got != 1 {
			t.Fatalf("%s: %d changes committed by their request, want 1", s.name, got)
		}
		if s.status == 0 {
			if err != nil {
				t.Fatalf("%s (step %d): %v", s.name, n, err)
			}
			s.oracle()
			continue
		}
		if status, _ := statusOf(err); status != s.status {
			t.Fatalf("%s (step %d): status %d (%v), want %d", s.name, n, status, err, s.status)
		}
	}
	samePeers(t, devicePeers(t, i.tun), want)
	i.mu.Lock()
	samePeers(t, i.table.peers, want)
	i.mu.Unlock()
	i.stop()
	samePeers(t, loadState(t, dir, "wgdc0"), want)
}

// TestDirectCommitFailingJournal: a change its request commits itself
// while the journal cannot be written is refused and leaves nothing on
// the device, in the peer set or on disk; the committer, asked to compact
// by that request, makes the journal usable again, and the next change
// lands.
func TestDirectCommitFailingJournal(t *testing.T) {
	i, dir := startDirectIface(t, "wgdc1")
	kept := nthPeer(1)
	waitIdle(i)
	if err := i.addPeer(kept, nil); err != nil {
		t.Fatal(err)
	}
	i.commitMu.Lock()
	if err := i.store.f.Close(); err != nil { // the next append fails
		t.Fatal(err)
	}
	i.commitMu.Unlock()

	lost := nthPeer(2)
	waitIdle(i)
	before := i.counts.direct.Load()
	err := i.addPeer(lost, nil)
	if err == nil {
		t.Fatal("a change whose journal append failed was accepted")
	}
	if i.counts.direct.Load() != before+1 {
		t.Fatal("the change was not committed by its request")
	}
	samePeers(t, devicePeers(t, i.tun), peerSet{kept.Key: kept})
	if n := i.peerCount(); n != 1 {
		t.Fatalf("peer set holds %d peers, want 1", n)
	}
	for { // the committer compacts: a new journal, open for appends
		i.commitMu.Lock()
		ok := i.store.f != nil
		i.commitMu.Unlock()
		if ok {
			break
		}
		runtime.Gosched()
	}
	again := nthPeer(3)
	if err := i.addPeer(again, nil); err != nil {
		t.Fatalf("after compaction: %v", err)
	}
	i.stop()
	samePeers(t, loadState(t, dir, "wgdc1"), peerSet{kept.Key: kept, again.Key: again})
}

// TestStopWhileRequestsCommit: changes submitted while the interface
// stops are either applied (answered nil, and on disk after) or refused
// with errShuttingDown (and nowhere), whichever way they went.
func TestStopWhileRequestsCommit(t *testing.T) {
	const n = 40
	i, dir := startDirectIface(t, "wgdc2")
	results := make([]error, n)
	var wg sync.WaitGroup
	for k := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[k] = i.addPeer(nthPeer(k+1), nil)
		}()
	}
	i.stop()
	wg.Wait()
	saved := loadState(t, dir, "wgdc2")
	for k, err := range results {
		_, on := saved[nthPeer(k+1).Key]
		switch {
		case err == nil && !on:
			t.Errorf("change %d was answered but is not on disk", k)
		case errors.Is(err, errShuttingDown) && on:
			t.Errorf("change %d was refused but is on disk", k)
		case err != nil && !errors.Is(err, errShuttingDown):
			t.Errorf("change %d: %v", k, err)
		}
	}
}
