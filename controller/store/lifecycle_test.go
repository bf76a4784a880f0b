package store

import (
	"context"
	"database/sql"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/internal/testenv"
)

// TestDueRestrictions: which restriction a peer's expiry and data limit
// call for, and that only peers whose recorded restriction differs are
// listed, narrowed by node or peer.
func TestDueRestrictions(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTest(t)
	n1 := mustCreateNode(t, s, testNode("fra1"))
	n2 := mustCreateNode(t, s, testNode("ams1"))
	now := testEpoch

	mk := func(node int64, name string, expires time.Time, limit int64, usage int64) Peer {
		t.Helper()
		p := testPeer(t, node, name)
		p.ExpiresAt, p.DataLimit = expires, limit
		p = mustCreatePeer(t, s, p)
		if usage > 0 {
			if err := s.RecordPeerStats(ctx, p.ID, time.Time{}, usage/2, usage-usage/2); err != nil {
				t.Fatal(err)
			}
		}
		return p
	}
	mk(n1.ID, "plain", time.Time{}, 0, 5000)
	future := mk(n1.ID, "future", now.Add(time.Second), 0, 0)
	expired := mk(n1.ID, "expired", now, 0, 0) // expires_at == now has passed
	mk(n1.ID, "under", time.Time{}, 1000, 999)
	reached := mk(n1.ID, "reached", time.Time{}, 1000, 1000)
	both := mk(n2.ID, "both", now.Add(-time.Hour), 10, 50)

	want := map[int64]Restriction{expired.ID: RestrictExpired, reached.ID: RestrictOverLimit, both.ID: RestrictExpired}
	check := func(name string, got []RestrictionChange, want map[int64]Restriction) {
		t.Helper()
		testenv.Equal(t, name+": count", len(got), len(want))
		for _, c := range got {
			w, ok := want[c.PeerID]
			if !ok {
				t.Errorf("%s: peer %d listed (%q to %q), want it left alone", name, c.PeerID, c.From, c.To)
				continue
			}
			testenv.Equal(t, name+": To", c.To, w)
		}
	}
	all, err := s.dueRestrictions(ctx, now, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	check("all nodes", all, want)
	for _, c := range all {
		if c.PeerID == reached.ID {
			testenv.Equal(t, "reached Usage", c.Usage, int64(1000))
			testenv.Equal(t, "reached DataLimit", c.DataLimit, int64(1000))
			testenv.Equal(t, "reached LimitAction", c.LimitAction, LimitRestrict)
		}
	}
	node2, err := s.dueRestrictions(ctx, now, n2.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	check("node 2", node2, map[int64]Restriction{both.ID: RestrictExpired})
	one, err := s.dueRestrictions(ctx, now, 0, reached.ID)
	if err != nil {
		t.Fatal(err)
	}
	check("one peer", one, map[int64]Restriction{reached.ID: RestrictOverLimit})
	onNode, err := s.dueRestrictions(ctx, now, n1.ID, reached.ID)
	if err != nil {
		t.Fatal(err)
	}
	check("one peer on its node", onNode, map[int64]Restriction{reached.ID: RestrictOverLimit})
	elsewhere, err := s.dueRestrictions(ctx, now, n2.ID, reached.ID)
	if err != nil {
		t.Fatal(err)
	}
	check("one peer on another node", elsewhere, map[int64]Restriction{})

	// Once recorded, nothing is due; a second later the future one expires.
	for id, r := range want {
		if err := s.InTx(ctx, func(tx *Tx) error { return tx.SetPeerRestriction(ctx, id, r) }); err != nil {
			t.Fatal(err)
		}
	}
	after, err := s.dueRestrictions(ctx, now, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	check("after recording", after, nil)
	later, err := s.dueRestrictions(ctx, now.Add(time.Second), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	check("a second later", later, map[int64]Restriction{future.ID: RestrictExpired})

	// A reset usage releases the peer over its limit.
	if err := s.InTx(ctx, func(tx *Tx) error { return tx.ResetPeerUsage(ctx, reached.ID) }); err != nil {
		t.Fatal(err)
	}
	reset, err := s.dueRestrictions(ctx, now, 0, reached.ID)
	if err != nil {
		t.Fatal(err)
	}
	check("after the reset", reset, map[int64]Restriction{reached.ID: RestrictNone})
	p, err := s.GetPeer(ctx, reached.ID)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Equal(t, "Usage after the reset", p.Usage(), int64(0))
	testenv.Equal(t, "RxTotal after the reset", p.RxTotal, int64(500)) // the totals stay
}

// dueRestrictions runs Tx.DueRestrictions in its own transaction.
func (s *Store) dueRestrictions(ctx context.Context, now time.Time, nodeID, peerID int64) ([]RestrictionChange, error) {
	return inTx(ctx, s, func(tx *Tx) ([]RestrictionChange, error) { return tx.DueRestrictions(ctx, now, nodeID, peerID) })
}

// TestSetPeerRestriction: the desired generation moves, and the peer goes
// pending, only when the restriction takes an enabled peer off its node
// or puts it back.
func TestSetPeerRestriction(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTest(t)
	n := mustCreateNode(t, s, testNode("fra1"))
	p := mustCreatePeer(t, s, testPeer(t, n.ID, "a"))
	set := func(id int64, r Restriction) error {
		return s.InTx(ctx, func(tx *Tx) error { return tx.SetPeerRestriction(ctx, id, r) })
	}
	gen := func() int64 {
		t.Helper()
		nd, err := s.GetNode(ctx, n.ID)
		if err != nil {
			t.Fatal(err)
		}
		return nd.DesiredGeneration
	}
	steps := []struct {
		name     string
		enabled  bool
		to       Restriction
		bumps    bool
		onNode   bool
		status   PeerStatus
		syncWant SyncState
	}{
		{"expire an active peer", true, RestrictExpired, true, false, PeerExpired, SyncPending},
		{"expired to over limit: still off", true, RestrictOverLimit, false, false, PeerOverLimit, SyncApplied},
		{"released", true, RestrictNone, true, true, PeerActive, SyncPending},
		{"restricted by hand, then expired: still off", false, RestrictExpired, false, false, PeerRestricted, SyncApplied},
		{"same again", false, RestrictExpired, false, false, PeerRestricted, SyncApplied},
	}
	for _, st := range steps {
		if err := s.SetPeerEnabled(ctx, p.ID, st.enabled); err != nil {
			t.Fatal(err)
		}
		if err := s.SetPeerSyncState(ctx, p.ID, SyncApplied, ""); err != nil {
			t.Fatal(err)
		}
		before := gen()
		if err := set(p.ID, st.to); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		got, err := s.GetPeer(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		testenv.Equal(t, st.name+": generation bumped", gen() != before, st.bumps)
		testenv.Equal(t, st.name+": Restriction", got.Restriction, st.to)
		testenv.Equal(t, st.name+": OnNode", got.OnNode(), st.onNode)
		testenv.Equal(t, st.name+": Status", got.Status(), st.status)
		testenv.Equal(t, st.name+": SyncState", got.SyncState, st.syncWant)
	}
	if err := set(p.ID, "manual"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("restriction \"manual\" = %v, want ErrInvalid", err)
	}
	if err := set(999, RestrictExpired); !errors.Is(err, ErrPeerNotFound) {
		t.Fatalf("missing peer = %v", err)
	}
	// Updates never write the restriction.
	got, _ := s.GetPeer(ctx, p.ID)
	got.Restriction = RestrictNone
	got.Name = "renamed"
	updated, err := s.UpdatePeer(ctx, got)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Equal(t, "Restriction after UpdatePeer", updated.Restriction, RestrictExpired)
}

// TestPeerLimitFieldsValidated: a negative limit and an unknown action
// are refused; an empty action is the default.
func TestPeerLimitFieldsValidated(t *testing.T) {
	s, _, _ := openTest(t)
	n := mustCreateNode(t, s, testNode("fra1"))
	for _, tc := range []struct {
		name   string
		limit  int64
		action LimitAction
		ok     bool
	}{
		{"default action", 100, "", true},
		{"delete", 100, LimitDelete, true},
		{"negative limit", -1, LimitRestrict, false},
		{"unknown action", 100, "throttle", false},
	} {
		p := testPeer(t, n.ID, tc.name)
		p.DataLimit, p.LimitAction = tc.limit, tc.action
		got, err := s.CreatePeerWithAllocation(context.Background(), p)
		if !tc.ok {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("%s: %v, want ErrInvalid", tc.name, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		want := tc.action
		if want == "" {
			want = LimitRestrict
		}
		testenv.Equal(t, tc.name+": LimitAction", got.LimitAction, want)
		testenv.Equal(t, tc.name+": DataLimit", got.DataLimit, tc.limit)
	}
}

// TestForgetPeerCounters: a peer gone from its node's dump comes back
// with counters from 0, and all of them count.
func TestForgetPeerCounters(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTest(t)
	n := mustCreateNode(t, s, testNode("fra1"))
	p := mustCreatePeer(t, s, testPeer(t, n.ID, "a"))
	record := func(rx, tx int64) {
		t.Helper()
		if err := s.RecordPeerStats(ctx, p.ID, time.Time{}, rx, tx); err != nil {
			t.Fatal(err)
		}
	}
	record(5000, 3000)
	if err := s.InTx(ctx, func(tx *Tx) error { return tx.ForgetPeerCounters(ctx, p.ID) }); err != nil {
		t.Fatal(err)
	}
	// Back on the node, it counts 6000/4000 before the next poll: more
	// than before it left, which without forgetting would count only the
	// difference.
	record(6000, 4000)
	got, err := s.GetPeer(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Equal(t, "RxTotal", got.RxTotal, int64(11000))
	testenv.Equal(t, "TxTotal", got.TxTotal, int64(7000))
	testenv.Equal(t, "Usage", got.Usage(), int64(18000))
	if err := s.InTx(ctx, func(tx *Tx) error { return tx.ForgetPeerCounters(ctx, 999) }); !errors.Is(err, ErrPeerNotFound) {
		t.Fatalf("missing peer = %v", err)
	}
}

// peerLifecycleMigration is the version that added peers' expiry, data
// limit and restriction.
const peerLifecycleMigration = 13

// peerLifecycleFixture is the migration fixture of peerLifecycleMigration.
func peerLifecycleFixture() migrationFixture {
	return migrationFixture{
		// At 0013 a peer has an expiry, a data limit with its action,
		// a usage baseline and the controller's restriction; peers
		// from before expire never, have no limit and are not
		// restricted by the controller.
		insert: func(t *testing.T, db *sql.DB) {
			box := testBox(t, 1)
			secret, err := box.Seal([]byte("v13-node-secret"), nodeSecretAAD(13))
			if err != nil {
				t.Fatal(err)
			}
			k := newKey(t).PublicKey().String()
			execAll(t, db,
				`INSERT INTO nodes (id, name, agent_url, secret_enc, ip_pool_cidr, created_at, updated_at)
				 VALUES (13, 'v13-node', 'https://v13.example.net', '`+secret+`', '10.13.0.0/24', 1, 1)`,
				`INSERT INTO peers (id, node_id, iface, name, public_key, address4, allowed_ips, rx_total, tx_total,
				   expires_at, data_limit_bytes, limit_action, usage_baseline, restriction, created_at, updated_at)
				 VALUES (13, 13, 'wg0', 'v13-peer', '`+k+`', '10.13.0.2', '10.13.0.2/32', 300, 400,
				   1700000000, 1000, 'delete', 200, 'expired', 1, 1)`,
				`INSERT INTO ip_allocations (node_id, ip, peer_id) VALUES (13, '10.13.0.2', 13)`,
			)
			for _, bad := range []string{
				`UPDATE peers SET limit_action = 'throttle' WHERE id = 13`,
				`UPDATE peers SET restriction = 'manual' WHERE id = 13`,
				`UPDATE peers SET data_limit_bytes = -1 WHERE id = 13`,
			} {
				if _, err := db.Exec(bad); err == nil {
					t.Fatalf("%s accepted", bad)
				}
			}
		},
		check: func(t *testing.T, s *Store) {
			ctx := context.Background()
			p, err := s.GetPeer(ctx, 13)
			if err != nil {
				t.Fatal(err)
			}
			testenv.Equal(t, "v13 peer ExpiresAt", p.ExpiresAt, time.Unix(1700000000, 0).UTC())
			testenv.Equal(t, "v13 peer DataLimit", p.DataLimit, int64(1000))
			testenv.Equal(t, "v13 peer LimitAction", p.LimitAction, LimitDelete)
			testenv.Equal(t, "v13 peer Usage", p.Usage(), int64(500))
			testenv.Equal(t, "v13 peer Status", p.Status(), PeerExpired)
			old, err := s.GetPeer(ctx, 8) // the fixture of 0008, written without these columns
			if err != nil {
				t.Fatal(err)
			}
			testenv.Equal(t, "v8 peer ExpiresAt.IsZero()", old.ExpiresAt.IsZero(), true)
			testenv.Equal(t, "v8 peer DataLimit", old.DataLimit, int64(0))
			testenv.Equal(t, "v8 peer LimitAction", old.LimitAction, LimitRestrict)
			testenv.Equal(t, "v8 peer Status", old.Status(), PeerActive)
		},
	}
}

// TestMoveKeepsLifecycle: a moved peer keeps its usage (totals and
// baseline), its limit, its expiry and its restriction: limits follow the
// peer across nodes.
func TestMoveKeepsLifecycle(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTest(t)
	n1 := mustCreateNode(t, s, testNode("fra1"))
	n2 := testNode("ams1")
	n2.IPPool, n2.IPPool6 = netip.MustParsePrefix("10.9.0.0/24"), netip.MustParsePrefix("fd00:9::/64")
	dst := mustCreateNode(t, s, n2)
	p := testPeer(t, n1.ID, "roamer")
	p.DataLimit, p.ExpiresAt = 5000, testEpoch.Add(time.Hour)
	p = mustCreatePeer(t, s, p)
	if err := s.RecordPeerStats(ctx, p.ID, time.Time{}, 3000, 1000); err != nil {
		t.Fatal(err)
	}
	err := s.InTx(ctx, func(tx *Tx) error {
		if err := tx.ResetPeerUsage(ctx, p.ID); err != nil {
			return err
		}
		if err := tx.SetPeerRestriction(ctx, p.ID, RestrictOverLimit); err != nil {
			return err
		}
		_, err := tx.MovePeer(ctx, p.ID, dst.ID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RecordPeerStats(ctx, p.ID, time.Time{}, 700, 300); err != nil { // the new node's counters
		t.Fatal(err)
	}
	got, err := s.GetPeer(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Equal(t, "NodeID", got.NodeID, dst.ID)
	testenv.Equal(t, "Usage", got.Usage(), int64(1000))
	testenv.Equal(t, "RxTotal", got.RxTotal, int64(3700))
	testenv.Equal(t, "DataLimit", got.DataLimit, int64(5000))
	testenv.Equal(t, "ExpiresAt", got.ExpiresAt, testEpoch.Add(time.Hour))
	testenv.Equal(t, "Restriction", got.Restriction, RestrictOverLimit)
	testenv.Equal(t, "OnNode", got.OnNode(), false)
}
