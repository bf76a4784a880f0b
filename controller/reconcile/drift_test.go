package reconcile

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/controller/store"
)

func TestCanonicalIPs(t *testing.T) {
	tests := []struct {
		in   []string
		want []string
	}{
		{nil, []string{}},
		{[]string{"10.0.0.2/32", "fd00::2/128"}, []string{"10.0.0.2/32", "fd00::2/128"}},
		{[]string{"fd00::2/128", "10.0.0.2/32"}, []string{"10.0.0.2/32", "fd00::2/128"}},
		{[]string{"10.0.0.2", "10.0.0.2/32"}, []string{"10.0.0.2/32"}},
		{[]string{"FD00::0002/128"}, []string{"fd00::2/128"}},
		{[]string{"junk", "10.0.0.0/8"}, []string{"10.0.0.0/8", "junk"}},
	}
	for _, tt := range tests {
		if got := canonicalIPs(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("canonicalIPs(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzCanonicalIPs: agents' allowed IPs are untrusted input. Normalizing
// never panics and is idempotent.
func FuzzCanonicalIPs(f *testing.F) {
	f.Add("10.0.0.2/32,fd00::2/128")
	f.Add("10.0.0.2,,::ffff:1.2.3.4/128,junk")
	f.Fuzz(func(t *testing.T, s string) {
		once := canonicalIPs(strings.Split(s, ","))
		if twice := canonicalIPs(once); !slices.Equal(once, twice) {
			t.Fatalf("not idempotent: %q -> %q", once, twice)
		}
	})
}

func TestCompareAndPlan(t *testing.T) {
	k := func() wgtypes.Key {
		key, err := wgtypes.GeneratePrivateKey()
		if err != nil {
			t.Fatal(err)
		}
		return key.PublicKey()
	}
	peer := func(id int64, key wgtypes.Key, ip string, enabled bool, state store.SyncState) store.Peer {
		return store.Peer{ID: id, Iface: "wg0", PublicKey: key, Enabled: enabled, SyncState: state,
			AllowedIPs: []netip.Prefix{netip.MustParsePrefix(ip)}, NodeKeepalive: 25 * time.Second, Keepalive: 40 * time.Second}
	}
	onAgent := func(key wgtypes.Key, ip string, ka int) agentapi.Peer {
		return agentapi.Peer{PublicKey: key.String(), AllowedIPs: []string{ip}, PersistentKeepalive: ka}
	}
	kSame, kMissing, kPendingMissing, kDiff, kPendingSame, kStranger, kDeleted, kRestricted, kRestrictedGone :=
		k(), k(), k(), k(), k(), k(), k(), k(), k()

	peers := []store.Peer{
		peer(1, kSame, "10.0.0.1/32", true, store.SyncApplied),
		peer(2, kMissing, "10.0.0.2/32", true, store.SyncApplied),
		peer(3, kPendingMissing, "10.0.0.3/32", true, store.SyncPending),
		peer(4, kDiff, "10.0.0.4/32", true, store.SyncApplied),
		peer(5, kPendingSame, "10.0.0.5/32", true, store.SyncError),
		peer(6, kRestricted, "10.0.0.6/32", false, store.SyncPending),
		peer(7, kRestrictedGone, "10.0.0.7/32", false, store.SyncPending),
		{ID: 8, Iface: "wg1", PublicKey: k(), Enabled: true}, // another interface: ignored
	}
	actual := []agentapi.Peer{
		onAgent(kSame, "10.0.0.1", 25), // bare address: the same /32
		onAgent(kDiff, "10.0.0.4/32", 0),
		onAgent(kPendingSame, "10.0.0.5/32", 25),
		onAgent(kStranger, "10.9.0.1/32", 0),
		onAgent(kDeleted, "10.0.0.9/32", 0),
		onAgent(kRestricted, "10.0.0.6/32", 25),
		{PublicKey: "not a key"},
	}
	c := compare("wg0", peers, actual, map[wgtypes.Key]bool{kDeleted: true, kSame: true}, false)

	type want struct {
		kind    DriftKind
		pending bool
		fields  []string
	}
	wants := map[wgtypes.Key]want{
		kMissing:        {DriftMissing, false, nil},
		kPendingMissing: {DriftMissing, true, nil},
		kDiff:           {DriftDifferent, false, []string{FieldKeepalive}},
		kPendingSame:    {DriftDifferent, true, []string{FieldPresharedKey}},
		kStranger:       {DriftUnknown, false, nil},
		kDeleted:        {DriftUnknown, true, nil},
		kRestricted:     {DriftUnknown, true, nil},
	}
	if len(c.items) != len(wants) {
		t.Fatalf("%d items, want %d: %+v", len(c.items), len(wants), c.drifts())
	}
	for _, it := range c.items {
		w, ok := wants[it.key]
		if !ok || it.Kind != w.kind || it.Pending != w.pending || !slices.Equal(it.Fields, w.fields) {
			t.Errorf("item %+v, want %+v", it.Drift, w)
		}
	}
	if c.invalid != 1 || len(c.settled) != 1 || c.settled[0].ID != 7 || len(c.desired) != 5 {
		t.Fatalf("invalid %d, settled %v, desired %d", c.invalid, c.settled, len(c.desired))
	}

	repair := makePlan(c, store.DriftRepair)
	if len(repair.adds) != 2 || len(repair.updates) != 2 || len(repair.deletes) != 3 || !repair.complete() {
		t.Fatalf("repair plan: %d adds %d updates %d deletes", len(repair.adds), len(repair.updates), len(repair.deletes))
	}
	report := makePlan(c, store.DriftReport)
	if len(report.adds) != 1 || len(report.updates) != 1 || len(report.deletes) != 2 || len(report.reported) != 3 || report.complete() {
		t.Fatalf("report plan: %d adds %d updates %d deletes %d reported",
			len(report.adds), len(report.updates), len(report.deletes), len(report.reported))
	}
}
