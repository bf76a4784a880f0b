package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

func TestNodeCRUD(t *testing.T) {
	ctx := context.Background()
	s, clk, _ := openTest(t)

	in := testNode("fra1")
	in.WGInterface, in.AuthType, in.DriftPolicy = "", "", ""
	n := mustCreateNode(t, s, in)
	if n.ID == 0 || n.WGInterface != "wg0" || n.AuthType != AuthHMAC || n.DriftPolicy != DriftRepair {
		t.Fatalf("defaults not applied: %+v", n)
	}
	if n.Status != NodeUnknown || !n.LastSeen.IsZero() || n.HealthJSON != nil || n.DesiredGeneration != 0 {
		t.Fatalf("fresh node state: %+v", n)
	}
	if !n.CreatedAt.Equal(testEpoch) || !n.UpdatedAt.Equal(testEpoch) {
		t.Fatalf("timestamps %v %v", n.CreatedAt, n.UpdatedAt)
	}
	if !bytes.Equal(n.Secret, in.Secret) {
		t.Fatal("secret did not round-trip")
	}

	byName, err := s.GetNodeByName(ctx, "FRA1")
	if err != nil {
		t.Fatal(err)
	}
	if byName.ID != n.ID {
		t.Fatal("GetNodeByName is not case-insensitive")
	}

	noV6 := testNode("nyc1")
	noV6.IPPool6 = netip.Prefix{}
	noV6.Enabled = false
	n2 := mustCreateNode(t, s, noV6)
	if n2.IPPool6.IsValid() || n2.Status != NodeDisabled || n2.Enabled {
		t.Fatalf("node without IPv6, disabled: %+v", n2)
	}

	list, err := s.ListNodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != n.ID || list[1].ID != n2.ID {
		t.Fatalf("ListNodes = %+v", list)
	}

	clk.Advance(time.Minute)
	n.Name = "fra1-renamed"
	n.Secret = []byte("rotated-secret")
	n.IPPool = netip.MustParsePrefix("10.9.0.0/16")
	n.MaxPeers = 10
	n.DriftPolicy = DriftReport
	n.Status = NodeOnline // ignored by UpdateNode
	up, err := s.UpdateNode(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	if up.Name != "fra1-renamed" || string(up.Secret) != "rotated-secret" || up.IPPool != n.IPPool ||
		up.MaxPeers != 10 || up.DriftPolicy != DriftReport || up.Status != NodeUnknown {
		t.Fatalf("after update: %+v", up)
	}
	if !up.UpdatedAt.Equal(testEpoch.Add(time.Minute)) || !up.CreatedAt.Equal(testEpoch) {
		t.Fatalf("update timestamps %v %v", up.CreatedAt, up.UpdatedAt)
	}

	if err := s.DeleteNode(ctx, n2.ID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetNode(ctx, n2.ID); !errors.Is(err, ErrNodeNotFound) || !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetNode after delete = %v", err)
	}
	if err := s.DeleteNode(ctx, n2.ID, false); !errors.Is(err, ErrNodeNotFound) {
		t.Fatalf("second delete = %v", err)
	}
}

func TestNodeNotFound(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTest(t)
	checks := map[string]error{}
	_, checks["GetNode"] = s.GetNode(ctx, 42)
	_, checks["GetNodeByName"] = s.GetNodeByName(ctx, "nope")
	n := testNode("x")
	n.ID = 42
	_, checks["UpdateNode"] = s.UpdateNode(ctx, n)
	checks["DeleteNode"] = s.DeleteNode(ctx, 42, true)
	checks["SetNodeEnabled"] = s.SetNodeEnabled(ctx, 42, false)
	checks["RecordNodeHealth"] = s.RecordNodeHealth(ctx, 42, NodeOnline, nil, wgtypes.Key{}, "", true)
	_, checks["BumpGeneration"] = s.BumpGeneration(ctx, 42)
	checks["SetAckedGeneration"] = s.SetAckedGeneration(ctx, 42, 1)
	_, checks["RecordDrift"] = s.RecordDrift(ctx, 42)
	checks["SetCurrentDrift"] = s.SetCurrentDrift(ctx, 42, 1)
	_, checks["ListPeers"] = s.ListPeers(ctx, 42)
	_, checks["CreatePeerWithAllocation"] = s.CreatePeerWithAllocation(ctx, testPeer(t, 42, "p"))
	for name, err := range checks {
		if !errors.Is(err, ErrNodeNotFound) {
			t.Errorf("%s = %v, want ErrNodeNotFound", name, err)
		}
	}
}

func TestNodeConflict(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTest(t)
	mustCreateNode(t, s, testNode("fra1"))
	b := mustCreateNode(t, s, testNode("ams1"))
	if _, err := s.CreateNode(ctx, testNode("FRA1")); !errors.Is(err, ErrConflict) {
		t.Fatalf("duplicate name (other case) = %v, want ErrConflict", err)
	}
	b.Name = "Fra1"
	if _, err := s.UpdateNode(ctx, b); !errors.Is(err, ErrConflict) {
		t.Fatalf("rename onto existing name = %v, want ErrConflict", err)
	}
}

func TestNodeInvalid(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTest(t)
	tests := []struct {
		name   string
		modify func(n *Node)
	}{
		{"empty name", func(n *Node) { n.Name = "  " }},
		{"no secret", func(n *Node) { n.Secret = nil }},
		{"bad url", func(n *Node) { n.AgentURL = "ftp://x" }},
		{"url without host", func(n *Node) { n.AgentURL = "https://" }},
		{"unknown auth", func(n *Node) { n.AuthType = "mtls" }},
		{"long interface", func(n *Node) { n.WGInterface = "wg-this-is-too-long" }},
		{"endpoint without port", func(n *Node) { n.Endpoint = "vpn.example.net" }},
		{"endpoint port zero", func(n *Node) { n.Endpoint = "vpn.example.net:0" }},
		{"no pool", func(n *Node) { n.IPPool = netip.Prefix{} }},
		{"unmasked pool", func(n *Node) { n.IPPool = netip.MustParsePrefix("10.8.0.5/24") }},
		{"v6 as v4 pool", func(n *Node) { n.IPPool = netip.MustParsePrefix("fd00::/64") }},
		{"tiny pool", func(n *Node) { n.IPPool = netip.MustParsePrefix("10.8.0.0/31") }},
		{"v4 as v6 pool", func(n *Node) { n.IPPool6 = netip.MustParsePrefix("10.9.0.0/24") }},
		{"negative weight", func(n *Node) { n.Weight = -1 }},
		{"negative max peers", func(n *Node) { n.MaxPeers = -1 }},
		{"bad drift policy", func(n *Node) { n.DriftPolicy = "ignore" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := testNode("x")
			tt.modify(&n)
			if _, err := s.CreateNode(ctx, n); !errors.Is(err, ErrInvalid) {
				t.Fatalf("CreateNode = %v, want ErrInvalid", err)
			}
		})
	}
	t.Run("unmasked pool message", func(t *testing.T) {
		n := testNode("x")
		n.IPPool = netip.MustParsePrefix("10.0.0.5/24")
		_, err := s.CreateNode(ctx, n)
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte("10.0.0.0/24")) {
			t.Fatalf("error %v does not suggest 10.0.0.0/24", err)
		}
	})
}

func TestDeleteNodeWithPeers(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTest(t)
	n := mustCreateNode(t, s, testNode("fra1"))
	other := mustCreateNode(t, s, testNode("ams1"))
	for i := range 3 {
		mustCreatePeer(t, s, testPeer(t, n.ID, "p"+string(rune('a'+i))))
	}
	keep := mustCreatePeer(t, s, testPeer(t, other.ID, "keep"))

	if err := s.DeleteNode(ctx, n.ID, false); !errors.Is(err, ErrNodeHasPeers) {
		t.Fatalf("DeleteNode without force = %v, want ErrNodeHasPeers", err)
	}
	if c, _ := s.CountPeers(ctx, n.ID); c != 3 {
		t.Fatalf("peers after refused delete: %d", c)
	}
	if err := s.DeleteNode(ctx, n.ID, true); err != nil {
		t.Fatal(err)
	}
	peers := countRows(t, s, "SELECT count(*) FROM peers WHERE node_id = ?", n.ID)
	allocs := countRows(t, s, "SELECT count(*) FROM ip_allocations WHERE node_id = ?", n.ID)
	if peers != 0 || allocs != 0 {
		t.Fatalf("after force delete: %d peers, %d allocations left", peers, allocs)
	}
	if _, err := s.GetPeer(ctx, keep.ID); err != nil {
		t.Fatalf("peer of another node: %v", err)
	}
}

func TestUpdateNodeWithPeersKeepsAddressesValid(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTest(t)
	n := mustCreateNode(t, s, testNode("fra1"))
	mustCreatePeer(t, s, testPeer(t, n.ID, "p")) // 10.8.0.2, fd00:8::2

	tests := []struct {
		name   string
		modify func(n *Node)
		ok     bool
	}{
		{"widen v4", func(n *Node) { n.IPPool = netip.MustParsePrefix("10.8.0.0/16") }, true},
		{"move v4 away", func(n *Node) { n.IPPool = netip.MustParsePrefix("10.9.0.0/24") }, false},
		{"shrink v4, still holding .2", func(n *Node) { n.IPPool = netip.MustParsePrefix("10.8.0.0/30") }, true}, // .2 is still usable
		{"drop v6", func(n *Node) { n.IPPool6 = netip.Prefix{} }, false},
		{"move v6", func(n *Node) { n.IPPool6 = netip.MustParsePrefix("fd00:9::/64") }, false},
		{"rename interface", func(n *Node) { n.WGInterface = "wg1" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cur, err := s.GetNode(ctx, n.ID)
			if err != nil {
				t.Fatal(err)
			}
			tt.modify(&cur)
			_, err = s.UpdateNode(ctx, cur)
			if tt.ok && err != nil {
				t.Fatal(err)
			}
			if !tt.ok && !errors.Is(err, ErrNodeHasPeers) {
				t.Fatalf("UpdateNode = %v, want ErrNodeHasPeers", err)
			}
		})
	}
}

func TestSetNodeEnabled(t *testing.T) {
	ctx := context.Background()
	s, clk, _ := openTest(t)
	n := mustCreateNode(t, s, testNode("fra1"))
	if err := s.RecordNodeHealth(ctx, n.ID, NodeOnline, nil, wgtypes.Key{}, "", true); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		enabled    bool
		wantStatus NodeStatus
		wantUpdate time.Duration // after testEpoch
	}{
		{true, NodeOnline, 0}, // no change: status and updated_at kept
		{false, NodeDisabled, 2 * time.Minute},
		{false, NodeDisabled, 2 * time.Minute},
		{true, NodeUnknown, 4 * time.Minute},
	}
	for i, st := range steps {
		clk.Advance(time.Minute)
		if err := s.SetNodeEnabled(ctx, n.ID, st.enabled); err != nil {
			t.Fatal(err)
		}
		got, _ := s.GetNode(ctx, n.ID)
		if got.Enabled != st.enabled || got.Status != st.wantStatus || !got.UpdatedAt.Equal(testEpoch.Add(st.wantUpdate)) {
			t.Fatalf("step %d: enabled=%v status=%s updated=%v; want %v %s +%v", i, got.Enabled, got.Status, got.UpdatedAt, st.enabled, st.wantStatus, st.wantUpdate)
		}
	}
}

func TestRecordNodeHealth(t *testing.T) {
	ctx := context.Background()
	s, clk, _ := openTest(t)
	n := mustCreateNode(t, s, testNode("fra1"))
	health := json.RawMessage(`{"status":"ok","version":"1.0"}`)

	if err := s.RecordNodeHealth(ctx, n.ID, NodeOnline, health, wgtypes.Key{}, "", true); err != nil {
		t.Fatal(err)
	}
	got, _ := s.GetNode(ctx, n.ID)
	if got.Status != NodeOnline || !got.LastSeen.Equal(testEpoch) || string(got.HealthJSON) != string(health) || got.ConsecutiveFailures != 0 {
		t.Fatalf("after success: %+v", got)
	}

	clk.Advance(time.Minute)
	for i := 1; i <= 3; i++ {
		if err := s.RecordNodeHealth(ctx, n.ID, NodeOffline, nil, wgtypes.Key{}, "dial tcp: connection refused", false); err != nil {
			t.Fatal(err)
		}
		got, _ = s.GetNode(ctx, n.ID)
		if got.ConsecutiveFailures != i {
			t.Fatalf("failures = %d, want %d", got.ConsecutiveFailures, i)
		}
	}
	if got.Status != NodeOffline || !got.LastSeen.Equal(testEpoch) || got.LastError != "dial tcp: connection refused" ||
		string(got.HealthJSON) != string(health) {
		t.Fatalf("after failures last_seen/health must stay: %+v", got)
	}

	clk.Advance(time.Minute)
	if err := s.RecordNodeHealth(ctx, n.ID, NodeOnline, nil, wgtypes.Key{}, "", true); err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetNode(ctx, n.ID)
	if got.ConsecutiveFailures != 0 || got.LastError != "" || !got.LastSeen.Equal(testEpoch.Add(2*time.Minute)) {
		t.Fatalf("after recovery: %+v", got)
	}

	if err := s.SetNodeEnabled(ctx, n.ID, false); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordNodeHealth(ctx, n.ID, NodeOnline, nil, wgtypes.Key{}, "", true); err != nil {
		t.Fatal(err)
	}
	if got, _ = s.GetNode(ctx, n.ID); got.Status != NodeDisabled {
		t.Fatalf("disabled node status = %s", got.Status)
	}

	if err := s.RecordNodeHealth(ctx, n.ID, "sleeping", nil, wgtypes.Key{}, "", true); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad status = %v", err)
	}
	if err := s.RecordNodeHealth(ctx, n.ID, NodeOnline, []byte("{not json"), wgtypes.Key{}, "", true); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad health JSON = %v", err)
	}
}

func TestGenerations(t *testing.T) {
	ctx := context.Background()
	s, clk, _ := openTest(t)
	n := mustCreateNode(t, s, testNode("fra1"))

	for want := int64(1); want <= 3; want++ {
		got, err := s.BumpGeneration(ctx, n.ID)
		if err != nil || got != want {
			t.Fatalf("BumpGeneration = %d, %v; want %d", got, err, want)
		}
	}
	clk.Advance(time.Second)
	if err := s.SetAckedGeneration(ctx, n.ID, 2); err != nil {
		t.Fatal(err)
	}
	got, _ := s.GetNode(ctx, n.ID)
	if got.AckedGeneration != 2 || !got.AckedAt.Equal(testEpoch.Add(time.Second)) {
		t.Fatalf("after ack 2: %+v", got)
	}
	clk.Advance(time.Second)
	if err := s.SetAckedGeneration(ctx, n.ID, 1); err != nil { // stale: ignored
		t.Fatal(err)
	}
	got, _ = s.GetNode(ctx, n.ID)
	if got.AckedGeneration != 2 || !got.AckedAt.Equal(testEpoch.Add(time.Second)) {
		t.Fatalf("stale ack moved state: %+v", got)
	}
	if err := s.SetAckedGeneration(ctx, n.ID, 4); !errors.Is(err, ErrInvalid) {
		t.Fatalf("ack above desired = %v, want ErrInvalid", err)
	}

	// Peer changes bump the generation in the same transaction.
	p := mustCreatePeer(t, s, testPeer(t, n.ID, "p"))
	if got, _ = s.GetNode(ctx, n.ID); got.DesiredGeneration != 4 {
		t.Fatalf("after peer create desired = %d, want 4", got.DesiredGeneration)
	}
	if _, err := s.UpdatePeer(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPeerEnabled(ctx, p.ID, false); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPeerEnabled(ctx, p.ID, false); err != nil { // no change, no bump
		t.Fatal(err)
	}
	if _, err := s.DeletePeer(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ = s.GetNode(ctx, n.ID); got.DesiredGeneration != 7 {
		t.Fatalf("after update, disable, delete desired = %d, want 7", got.DesiredGeneration)
	}
	// Observations do not bump it.
	q := mustCreatePeer(t, s, testPeer(t, n.ID, "q")) // 8
	if err := s.RecordPeerStats(ctx, q.ID, testEpoch, 10, 20); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPeerSyncState(ctx, q.ID, SyncApplied, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordNodeHealth(ctx, n.ID, NodeOnline, nil, wgtypes.Key{}, "", true); err != nil {
		t.Fatal(err)
	}
	if got, _ = s.GetNode(ctx, n.ID); got.DesiredGeneration != 8 {
		t.Fatalf("after observations desired = %d, want 8", got.DesiredGeneration)
	}

	for want := int64(1); want <= 2; want++ {
		if c, err := s.RecordDrift(ctx, n.ID); err != nil || c != want {
			t.Fatalf("RecordDrift = %d, %v; want %d", c, err, want)
		}
	}
}

func TestCurrentDrift(t *testing.T) {
	ctx := context.Background()
	s, clk, _ := openTest(t)
	n := mustCreateNode(t, s, testNode("fra1"))
	if n.DriftCurrent != 0 || !n.DriftCheckedAt.IsZero() {
		t.Fatalf("new node: drift current %d, checked %v; want 0 and never", n.DriftCurrent, n.DriftCheckedAt)
	}

	clk.Advance(time.Minute)
	if err := s.SetCurrentDrift(ctx, n.ID, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordDrift(ctx, n.ID); err != nil {
		t.Fatal(err)
	}
	got, _ := s.GetNode(ctx, n.ID)
	if got.DriftCurrent != 2 || !got.DriftCheckedAt.Equal(testEpoch.Add(time.Minute)) || got.DriftCount != 1 {
		t.Fatalf("after 2 differences: current %d checked %v count %d", got.DriftCurrent, got.DriftCheckedAt, got.DriftCount)
	}

	// Repaired: the current drift goes back to 0, the count stays.
	clk.Advance(time.Minute)
	if err := s.SetCurrentDrift(ctx, n.ID, 0); err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetNode(ctx, n.ID)
	if got.DriftCurrent != 0 || !got.DriftCheckedAt.Equal(testEpoch.Add(2*time.Minute)) || got.DriftCount != 1 {
		t.Fatalf("after repair: current %d checked %v count %d", got.DriftCurrent, got.DriftCheckedAt, got.DriftCount)
	}
	// Neither is configuration: an update keeps them, and they do not
	// move the desired generation.
	if got.DesiredGeneration != n.DesiredGeneration {
		t.Fatalf("desired generation moved: %d -> %d", n.DesiredGeneration, got.DesiredGeneration)
	}
	if err := s.SetCurrentDrift(ctx, n.ID, 3); err != nil {
		t.Fatal(err)
	}
	got.Weight = 7
	up, err := s.UpdateNode(ctx, got)
	if err != nil {
		t.Fatal(err)
	}
	if up.DriftCurrent != 3 || up.DriftCount != 1 {
		t.Fatalf("after UpdateNode: current %d count %d", up.DriftCurrent, up.DriftCount)
	}

	if err := s.SetCurrentDrift(ctx, n.ID, -1); !errors.Is(err, ErrInvalid) {
		t.Fatalf("negative drift = %v, want ErrInvalid", err)
	}
	if got, _ = s.GetNode(ctx, n.ID); got.DriftCurrent != 3 {
		t.Fatalf("a refused value changed the drift to %d", got.DriftCurrent)
	}
}

// TestNodeServerPublicKey: a successful poll's health document sets the
// server key (a zero key clears it), a poll without a document keeps it,
// and changing the node's interface forgets it.
func TestNodeServerPublicKey(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTest(t)
	n := mustCreateNode(t, s, testNode("fra1"))
	doc := json.RawMessage(`{"status":"ok"}`)
	k1, k2 := newKey(t).PublicKey(), newKey(t).PublicKey()
	steps := []struct {
		name    string
		record  func() error
		wantKey wgtypes.Key
	}{
		{"new node", func() error { return nil }, wgtypes.Key{}},
		{"poll with a key", func() error { return s.RecordNodeHealth(ctx, n.ID, NodeOnline, doc, k1, "", true) }, k1},
		{"failed poll", func() error { return s.RecordNodeHealth(ctx, n.ID, NodeOffline, nil, wgtypes.Key{}, "down", false) }, k1},
		{"poll without a document", func() error { return s.RecordNodeHealth(ctx, n.ID, NodeOnline, nil, wgtypes.Key{}, "", true) }, k1},
		{"poll with another key", func() error { return s.RecordNodeHealth(ctx, n.ID, NodeOnline, doc, k2, "", true) }, k2},
		{"update keeping the interface", func() error {
			m, err := s.GetNode(ctx, n.ID)
			if err != nil {
				return err
			}
			m.DNS = "9.9.9.9"
			_, err = s.UpdateNode(ctx, m)
			return err
		}, k2},
		{"update changing the interface", func() error {
			m, err := s.GetNode(ctx, n.ID)
			if err != nil {
				return err
			}
			m.WGInterface = "wg1"
			_, err = s.UpdateNode(ctx, m)
			return err
		}, wgtypes.Key{}},
		{"poll with a key again", func() error { return s.RecordNodeHealth(ctx, n.ID, NodeOnline, doc, k1, "", true) }, k1},
		{"poll whose document has no key", func() error {
			return s.RecordNodeHealth(ctx, n.ID, NodeOnline, doc, wgtypes.Key{}, "", true)
		}, wgtypes.Key{}},
	}
	for _, st := range steps {
		if err := st.record(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		got, err := s.GetNode(ctx, n.ID)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got.ServerPublicKey != st.wantKey {
			t.Errorf("%s: server key %v, want %v", st.name, got.ServerPublicKey, st.wantKey)
		}
	}
}

// TestNodeAPIPaths: the path family found out is recorded for the agent
// it was found at, refused when unknown, and forgotten when the node is
// pointed at another agent.
func TestNodeAPIPaths(t *testing.T) {
	s, _, _ := openTest(t)
	ctx := context.Background()
	n := mustCreateNode(t, s, testNode("paths"))
	if n.APIPaths != "" {
		t.Fatalf("new node api_paths %q, want \"\"", n.APIPaths)
	}
	if err := s.SetNodeAPIPaths(ctx, n.ID, n.AgentURL, "v1"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetNodeAPIPaths(ctx, n.ID, n.AgentURL, "both"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("api_paths \"both\": %v, want ErrInvalid", err)
	}
	// A finding about another URL (the node was changed meanwhile) is dropped.
	if err := s.SetNodeAPIPaths(ctx, n.ID, "https://elsewhere.example.net", "bare"); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetNode(ctx, n.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.APIPaths != "v1" {
		t.Fatalf("api_paths %q, want v1", got.APIPaths)
	}
	got.Name = "paths-renamed"
	if got, err = s.UpdateNode(ctx, got); err != nil || got.APIPaths != "v1" {
		t.Fatalf("after a rename: api_paths %q (%v), want v1 kept", got.APIPaths, err)
	}
	got.AgentURL = "https://other.example.net"
	if got, err = s.UpdateNode(ctx, got); err != nil || got.APIPaths != "" {
		t.Fatalf("after a new agent URL: api_paths %q (%v), want \"\"", got.APIPaths, err)
	}
}
