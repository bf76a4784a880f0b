package store

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/controller/ipam"
)

func TestCreatePeerAllocates(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTest(t)
	n := mustCreateNode(t, s, testNode("fra1"))

	in := testPeer(t, n.ID, "laptop")
	p := mustCreatePeer(t, s, in)
	if p.ID == 0 || p.NodeID != n.ID || p.Iface != "wg0" || p.Name != "laptop" {
		t.Fatalf("peer identity: %+v", p)
	}
	if p.Address4 != netip.MustParseAddr("10.8.0.2") || p.Address6 != netip.MustParseAddr("fd00:8::2") {
		t.Fatalf("addresses %s %s, want 10.8.0.2 fd00:8::2 (.1 is the node's)", p.Address4, p.Address6)
	}
	wantAllowed := []netip.Prefix{netip.MustParsePrefix("10.8.0.2/32"), netip.MustParsePrefix("fd00:8::2/128")}
	if !slices.Equal(p.AllowedIPs, wantAllowed) {
		t.Fatalf("AllowedIPs = %v, want %v (never the pool)", p.AllowedIPs, wantAllowed)
	}
	if !slices.Equal(p.ClientAllowedIPs, DefaultClientAllowedIPs()) {
		t.Fatalf("ClientAllowedIPs = %v", p.ClientAllowedIPs)
	}
	if *p.PrivateKey != *in.PrivateKey || *p.PresharedKey != *in.PresharedKey || p.PublicKey != in.PublicKey {
		t.Fatal("keys did not round-trip")
	}
	if p.Keepalive != 25*time.Second || !p.Enabled || p.SyncState != SyncPending {
		t.Fatalf("peer settings: %+v", p)
	}

	// A client-made key: no private key, no PSK, custom routes.
	own := Peer{
		NodeID:           n.ID,
		PublicKey:        newKey(t).PublicKey(),
		ClientAllowedIPs: []netip.Prefix{netip.MustParsePrefix("10.8.0.0/24")},
		Enabled:          true,
	}
	q := mustCreatePeer(t, s, own)
	if q.PrivateKey != nil || q.PresharedKey != nil || q.Address4 != netip.MustParseAddr("10.8.0.3") {
		t.Fatalf("client-keyed peer: %+v", q)
	}
	if !slices.Equal(q.ClientAllowedIPs, own.ClientAllowedIPs) {
		t.Fatalf("ClientAllowedIPs = %v", q.ClientAllowedIPs)
	}

	// A node without IPv6 gives IPv4 only.
	v4only := testNode("v4only")
	v4only.IPPool6 = netip.Prefix{}
	m := mustCreateNode(t, s, v4only)
	r := mustCreatePeer(t, s, testPeer(t, m.ID, "r"))
	if r.Address6.IsValid() || len(r.AllowedIPs) != 1 || r.Address4 != netip.MustParseAddr("10.8.0.2") {
		t.Fatalf("IPv4-only peer: %+v", r)
	}

	if c, err := s.CountPeers(ctx, n.ID); err != nil || c != 2 {
		t.Fatalf("CountPeers = %d, %v", c, err)
	}
	list, err := s.ListPeers(ctx, n.ID)
	if err != nil || len(list) != 2 || list[0].ID != p.ID || list[1].ID != q.ID {
		t.Fatalf("ListPeers = %+v, %v", list, err)
	}
	all, err := s.ListAllPeers(ctx)
	if err != nil || len(all) != 3 {
		t.Fatalf("ListAllPeers = %d, %v", len(all), err)
	}
	byKey, err := s.GetPeerByPublicKey(ctx, n.ID, "wg0", q.PublicKey)
	if err != nil || byKey.ID != q.ID {
		t.Fatalf("GetPeerByPublicKey = %+v, %v", byKey, err)
	}
	if _, err := s.GetPeerByPublicKey(ctx, m.ID, "wg0", q.PublicKey); !errors.Is(err, ErrPeerNotFound) {
		t.Fatalf("GetPeerByPublicKey on other node = %v", err)
	}
}

func TestCreatePeerRequestedAddress(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTest(t)
	n := mustCreateNode(t, s, testNode("fra1"))

	p := testPeer(t, n.ID, "fixed")
	p.Address4 = netip.MustParseAddr("10.8.0.50")
	p.Address6 = netip.MustParseAddr("fd00:8::50")
	got := mustCreatePeer(t, s, p)
	if got.Address4 != p.Address4 || got.Address6 != p.Address6 {
		t.Fatalf("requested addresses not honoured: %s %s", got.Address4, got.Address6)
	}
	// Automatic allocation still starts at the bottom.
	if a := mustCreatePeer(t, s, testPeer(t, n.ID, "auto")); a.Address4 != netip.MustParseAddr("10.8.0.2") {
		t.Fatalf("auto peer got %s", a.Address4)
	}

	tests := []struct {
		name   string
		a4, a6 string
		want   error
	}{
		{"taken v4", "10.8.0.50", "", ErrConflict},
		{"taken v6", "", "fd00:8::50", ErrConflict},
		{"interface address", "10.8.0.1", "", ErrInvalid},
		{"network address", "10.8.0.0", "", ErrInvalid},
		{"broadcast", "10.8.0.255", "", ErrInvalid},
		{"outside pool", "10.9.0.5", "", ErrInvalid},
		{"v6 interface address", "", "fd00:8::1", ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPeer(t, n.ID, tt.name)
			if tt.a4 != "" {
				p.Address4 = netip.MustParseAddr(tt.a4)
			}
			if tt.a6 != "" {
				p.Address6 = netip.MustParseAddr(tt.a6)
			}
			if _, err := s.CreatePeerWithAllocation(ctx, p); !errors.Is(err, tt.want) {
				t.Fatalf("CreatePeerWithAllocation = %v, want %v", err, tt.want)
			}
		})
	}

	v4only := testNode("v4only")
	v4only.IPPool6 = netip.Prefix{}
	m := mustCreateNode(t, s, v4only)
	q := testPeer(t, m.ID, "q")
	q.Address6 = netip.MustParseAddr("fd00:8::9")
	if _, err := s.CreatePeerWithAllocation(ctx, q); !errors.Is(err, ErrInvalid) {
		t.Fatalf("IPv6 address on a node without IPv6 pool = %v", err)
	}
}

func TestCreatePeerRejects(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTest(t)
	n := mustCreateNode(t, s, testNode("fra1"))
	dup := mustCreatePeer(t, s, testPeer(t, n.ID, "first"))

	other := newKey(t)
	zero := wgtypes.Key{}
	tests := []struct {
		name   string
		modify func(p *Peer)
		want   error
	}{
		{"duplicate public key", func(p *Peer) { p.PublicKey, p.PrivateKey = dup.PublicKey, dup.PrivateKey }, ErrConflict},
		{"no public key", func(p *Peer) { p.PublicKey, p.PrivateKey = wgtypes.Key{}, nil }, ErrInvalid},
		{"private key of another pair", func(p *Peer) { p.PrivateKey = &other }, ErrInvalid},
		{"zero preshared key", func(p *Peer) { p.PresharedKey = &zero }, ErrInvalid},
		{"other interface", func(p *Peer) { p.Iface = "wg1" }, ErrInvalid},
		{"negative keepalive", func(p *Peer) { p.Keepalive = -time.Second }, ErrInvalid},
		{"huge keepalive", func(p *Peer) { p.Keepalive = 70000 * time.Second }, ErrInvalid},
		{"negative node keepalive", func(p *Peer) { p.NodeKeepalive = -time.Second }, ErrInvalid},
		{"huge node keepalive", func(p *Peer) { p.NodeKeepalive = 70000 * time.Second }, ErrInvalid},
		{"invalid client prefix", func(p *Peer) { p.ClientAllowedIPs = []netip.Prefix{{}} }, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPeer(t, n.ID, tt.name)
			tt.modify(&p)
			if _, err := s.CreatePeerWithAllocation(ctx, p); !errors.Is(err, tt.want) {
				t.Fatalf("CreatePeerWithAllocation = %v, want %v", err, tt.want)
			}
		})
	}
	// Nothing leaked from the failed attempts.
	if c, _ := s.CountPeers(ctx, n.ID); c != 1 {
		t.Fatalf("peers = %d, want 1", c)
	}
	allocs := countRows(t, s, "SELECT count(*) FROM ip_allocations")
	if allocs != 2 {
		t.Fatalf("allocations = %d, want 2", allocs)
	}
}

func TestPoolExhaustionAndMaxPeers(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTest(t)

	tiny := testNode("tiny")
	tiny.IPPool = netip.MustParsePrefix("10.7.0.0/29") // .2 .. .6
	tiny.IPPool6 = netip.Prefix{}
	n := mustCreateNode(t, s, tiny)
	for i := range 5 {
		mustCreatePeer(t, s, testPeer(t, n.ID, fmt.Sprint(i)))
	}
	_, err := s.CreatePeerWithAllocation(ctx, testPeer(t, n.ID, "one too many"))
	if !errors.Is(err, ipam.ErrPoolExhausted) {
		t.Fatalf("full pool = %v, want ipam.ErrPoolExhausted", err)
	}

	v6tiny := testNode("v6tiny")
	v6tiny.IPPool6 = netip.MustParsePrefix("fd00:7::/126") // ::2, ::3
	m := mustCreateNode(t, s, v6tiny)
	mustCreatePeer(t, s, testPeer(t, m.ID, "a"))
	mustCreatePeer(t, s, testPeer(t, m.ID, "b"))
	if _, err := s.CreatePeerWithAllocation(ctx, testPeer(t, m.ID, "c")); !errors.Is(err, ipam.ErrPoolExhausted) {
		t.Fatalf("full IPv6 pool = %v, want ipam.ErrPoolExhausted", err)
	}
	if c, _ := s.CountPeers(ctx, m.ID); c != 2 {
		t.Fatalf("IPv4 allocated although IPv6 failed: %d peers", c)
	}

	capped := testNode("capped")
	capped.MaxPeers = 2
	k := mustCreateNode(t, s, capped)
	mustCreatePeer(t, s, testPeer(t, k.ID, "a"))
	mustCreatePeer(t, s, testPeer(t, k.ID, "b"))
	if _, err := s.CreatePeerWithAllocation(ctx, testPeer(t, k.ID, "c")); !errors.Is(err, ErrNodeFull) {
		t.Fatalf("max peers = %v, want ErrNodeFull", err)
	}
}

func TestDeletePeerFreesAddresses(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTest(t)
	n := mustCreateNode(t, s, testNode("fra1"))
	a := mustCreatePeer(t, s, testPeer(t, n.ID, "a")) // .2
	b := mustCreatePeer(t, s, testPeer(t, n.ID, "b")) // .3
	mustCreatePeer(t, s, testPeer(t, n.ID, "c"))      // .4

	gone, err := s.DeletePeer(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if gone.ID != b.ID || gone.PublicKey != b.PublicKey || gone.Address4 != b.Address4 {
		t.Fatalf("DeletePeer returned %+v", gone)
	}
	if _, err := s.GetPeer(ctx, b.ID); !errors.Is(err, ErrPeerNotFound) || !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetPeer after delete = %v", err)
	}
	if _, err := s.DeletePeer(ctx, b.ID); !errors.Is(err, ErrPeerNotFound) {
		t.Fatalf("second DeletePeer = %v", err)
	}
	allocs := countRows(t, s, "SELECT count(*) FROM ip_allocations WHERE peer_id = ?", b.ID)
	if allocs != 0 {
		t.Fatalf("%d allocations left for the deleted peer", allocs)
	}
	d := mustCreatePeer(t, s, testPeer(t, n.ID, "d"))
	if d.Address4 != b.Address4 || d.Address6 != b.Address6 {
		t.Fatalf("freed address not reused: got %s %s, want %s %s", d.Address4, d.Address6, b.Address4, b.Address6)
	}
	// The same public key may come back after its peer was deleted.
	again := testPeer(t, n.ID, "a again")
	again.PublicKey, again.PrivateKey = a.PublicKey, a.PrivateKey
	if _, err := s.DeletePeer(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	mustCreatePeer(t, s, again)
}

// TestConcurrentAllocation creates 50 peers on one node from 50
// goroutines; every one must get its own addresses.
func TestConcurrentAllocation(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTest(t)
	n := mustCreateNode(t, s, testNode("fra1"))

	const workers = 50
	peers := make([]Peer, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for i := range workers {
		p := testPeer(t, n.ID, fmt.Sprint("peer-", i))
		wg.Go(func() {
			peers[i], errs[i] = s.CreatePeerWithAllocation(ctx, p)
		})
	}
	wg.Wait()
	seen4 := map[netip.Addr]bool{}
	seen6 := map[netip.Addr]bool{}
	for i := range workers {
		if errs[i] != nil {
			t.Fatalf("worker %d: %v", i, errs[i])
		}
		p := peers[i]
		if seen4[p.Address4] || seen6[p.Address6] {
			t.Fatalf("address handed out twice: %s %s", p.Address4, p.Address6)
		}
		seen4[p.Address4], seen6[p.Address6] = true, true
	}
	// Dense: exactly .2 .. .51.
	for i := 2; i < 2+workers; i++ {
		if a := netip.AddrFrom4([4]byte{10, 8, 0, byte(i)}); !seen4[a] {
			t.Fatalf("%s not allocated; allocation is not dense", a)
		}
	}
	if got, _ := s.GetNode(ctx, n.ID); got.DesiredGeneration != workers {
		t.Fatalf("desired generation %d, want %d", got.DesiredGeneration, workers)
	}
}

// TestAllocationUniqueInSchema shows the UNIQUE (node_id, ip) constraint
// itself refuses a second row for an address, whatever the code above it
// does.
func TestAllocationUniqueInSchema(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTest(t)
	n := mustCreateNode(t, s, testNode("fra1"))
	p := mustCreatePeer(t, s, testPeer(t, n.ID, "a"))
	q := mustCreatePeer(t, s, testPeer(t, n.ID, "b"))
	_, err := rawExec(ctx, s, "INSERT INTO ip_allocations (node_id, ip, peer_id) VALUES (?, ?, ?)",
		n.ID, p.Address4.String(), q.ID)
	if !isUnique(err) {
		t.Fatalf("duplicate allocation insert = %v, want a UNIQUE violation", err)
	}
}

func TestUpdatePeer(t *testing.T) {
	ctx := context.Background()
	s, clk, _ := openTest(t)
	n := mustCreateNode(t, s, testNode("fra1"))
	p := mustCreatePeer(t, s, testPeer(t, n.ID, "a"))
	other := mustCreatePeer(t, s, testPeer(t, n.ID, "b"))
	if err := s.SetPeerSyncState(ctx, p.ID, SyncApplied, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordPeerStats(ctx, p.ID, testEpoch, 100, 200); err != nil {
		t.Fatal(err)
	}

	clk.Advance(time.Hour)
	newPriv := newKey(t)
	up := p
	up.Name = "renamed"
	up.PublicKey, up.PrivateKey, up.PresharedKey = newPriv.PublicKey(), &newPriv, nil
	up.ClientAllowedIPs = []netip.Prefix{netip.MustParsePrefix("192.168.0.0/16")}
	up.DNS = "9.9.9.9"
	up.Keepalive = 0
	up.Enabled = false
	// Fields UpdatePeer must ignore:
	up.Address4 = netip.MustParseAddr("10.8.0.99")
	up.AllowedIPs = []netip.Prefix{netip.MustParsePrefix("10.8.0.0/24")}
	up.NodeID = 999
	up.RxTotal = 1

	got, err := s.UpdatePeer(ctx, up)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "renamed" || got.PublicKey != newPriv.PublicKey() || *got.PrivateKey != newPriv || got.PresharedKey != nil ||
		got.DNS != "9.9.9.9" || got.Keepalive != 0 || got.Enabled || !slices.Equal(got.ClientAllowedIPs, up.ClientAllowedIPs) {
		t.Fatalf("desired state not updated: %+v", got)
	}
	if got.Address4 != p.Address4 || !slices.Equal(got.AllowedIPs, p.AllowedIPs) || got.NodeID != n.ID || got.RxTotal != 100 {
		t.Fatalf("fixed or observed fields changed: %+v", got)
	}
	if got.SyncState != SyncPending || !got.UpdatedAt.Equal(testEpoch.Add(time.Hour)) || !got.CreatedAt.Equal(testEpoch) {
		t.Fatalf("sync/timestamps: %+v", got)
	}

	clash := got
	clash.PublicKey, clash.PrivateKey = other.PublicKey, other.PrivateKey
	if _, err := s.UpdatePeer(ctx, clash); !errors.Is(err, ErrConflict) {
		t.Fatalf("update onto another peer's key = %v", err)
	}
	missing := got
	missing.ID = 999
	if _, err := s.UpdatePeer(ctx, missing); !errors.Is(err, ErrPeerNotFound) {
		t.Fatalf("update of missing peer = %v", err)
	}
}

func TestPeerSyncState(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTest(t)
	n := mustCreateNode(t, s, testNode("fra1"))
	p := mustCreatePeer(t, s, testPeer(t, n.ID, "a"))
	steps := []struct {
		state   SyncState
		msg     string
		wantMsg string
	}{
		{SyncError, "agent: invalid key", "agent: invalid key"},
		{SyncApplied, "ignored", ""},
		{SyncPending, "", ""},
	}
	for _, st := range steps {
		if err := s.SetPeerSyncState(ctx, p.ID, st.state, st.msg); err != nil {
			t.Fatal(err)
		}
		got, _ := s.GetPeer(ctx, p.ID)
		if got.SyncState != st.state || got.SyncError != st.wantMsg {
			t.Fatalf("sync = %s %q, want %s %q", got.SyncState, got.SyncError, st.state, st.wantMsg)
		}
	}
	if err := s.SetPeerSyncState(ctx, p.ID, "done", ""); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad state = %v", err)
	}
	if err := s.SetPeerSyncState(ctx, 999, SyncApplied, ""); !errors.Is(err, ErrPeerNotFound) {
		t.Fatalf("missing peer = %v", err)
	}
}

func TestRecordPeerStatsCounterResets(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTest(t)
	n := mustCreateNode(t, s, testNode("fra1"))
	p := mustCreatePeer(t, s, testPeer(t, n.ID, "a"))

	hs := testEpoch.Add(-time.Minute)
	steps := []struct {
		name               string
		handshake          time.Time
		rx, tx             int64
		wantRxTot, wantTxT int64
	}{
		{"first observation", hs, 1000, 500, 1000, 500},
		{"growth adds the delta", hs, 1500, 800, 1500, 800},
		{"no change", hs, 1500, 800, 1500, 800},
		{"device restarted: counters reset", time.Time{}, 200, 100, 1700, 900},
		{"growth after reset", hs.Add(time.Hour), 700, 150, 2200, 950},
		{"reset to zero", time.Time{}, 0, 0, 2200, 950},
		{"only rx reset", hs, 50, 400, 2250, 1350},
	}
	for _, st := range steps {
		if err := s.RecordPeerStats(ctx, p.ID, st.handshake, st.rx, st.tx); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetPeer(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.RxBytes != st.rx || got.TxBytes != st.tx || got.RxTotal != st.wantRxTot || got.TxTotal != st.wantTxT ||
			!got.LastHandshake.Equal(st.handshake) {
			t.Fatalf("%s: rx=%d tx=%d totals=%d/%d hs=%v; want %d %d %d/%d %v", st.name,
				got.RxBytes, got.TxBytes, got.RxTotal, got.TxTotal, got.LastHandshake,
				st.rx, st.tx, st.wantRxTot, st.wantTxT, st.handshake)
		}
		if !got.UpdatedAt.Equal(p.UpdatedAt) || got.SyncState != p.SyncState {
			t.Fatalf("%s: stats changed desired-state fields", st.name)
		}
	}
	if err := s.RecordPeerStats(ctx, p.ID, hs, -1, 0); !errors.Is(err, ErrInvalid) {
		t.Fatalf("negative counter = %v", err)
	}
	if err := s.RecordPeerStats(ctx, 999, hs, 1, 1); !errors.Is(err, ErrPeerNotFound) {
		t.Fatalf("missing peer = %v", err)
	}
}

// TestAllocationRaceIsBoundedConflict simulates another writer taking the
// chosen address between the read of used addresses and the insert (a
// trigger does it on every attempt: a temporary one on the store's one
// SQLite connection, a plain one on PostgreSQL). The store retries a bounded number of times and then reports
// ErrConflict, leaving nothing behind.
func TestAllocationRaceIsBoundedConflict(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTest(t)
	n := mustCreateNode(t, s, testNode("fra1"))
	mustCreatePeer(t, s, testPeer(t, n.ID, "a")) // 10.8.0.2
	create := `CREATE TEMP TRIGGER steal_address AFTER INSERT ON main.peers BEGIN
		INSERT INTO ip_allocations (node_id, ip, peer_id) VALUES (NEW.node_id, '10.8.0.3', NEW.id);
	END`
	drop := "DROP TRIGGER temp.steal_address"
	if onPostgres() {
		create = `CREATE FUNCTION steal_address() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
			INSERT INTO ip_allocations (node_id, ip, peer_id) VALUES (NEW.node_id, '10.8.0.3', NEW.id);
			RETURN NEW;
		END $$;
		CREATE TRIGGER steal_address AFTER INSERT ON peers FOR EACH ROW EXECUTE FUNCTION steal_address()`
		drop = "DROP TRIGGER steal_address ON peers"
	}
	if _, err := s.db.ExecContext(ctx, create); err != nil {
		t.Fatal(err)
	}
	_, err := s.CreatePeerWithAllocation(ctx, testPeer(t, n.ID, "b"))
	if !errors.Is(err, ErrConflict) || !errors.Is(err, errAllocationRace) {
		t.Fatalf("CreatePeerWithAllocation under a permanent race = %v, want ErrConflict", err)
	}
	if c, _ := s.CountPeers(ctx, n.ID); c != 1 {
		t.Fatalf("peers = %d, want 1", c)
	}
	if _, err := s.db.ExecContext(ctx, drop); err != nil {
		t.Fatal(err)
	}
	if p := mustCreatePeer(t, s, testPeer(t, n.ID, "b")); p.Address4 != netip.MustParseAddr("10.8.0.3") {
		t.Fatalf("after the race ended got %s", p.Address4)
	}
}
