package tunnel

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/tun/netstack"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/container"
	"github.com/wgfleet/wgfleet/internal/testenv"
)

// recordOf returns a record with changes applied.
func recordOf(changes ...wgtypes.PeerConfig) *record {
	r := newRecord()
	r.apply(changes)
	return r
}

func TestRecordUndo(t *testing.T) {
	k1, k2, k3, psk := testKey(1), testKey(2), testKey(3), testKey(9)
	ep := &net.UDPAddr{IP: net.IPv4(192, 0, 2, 1).To4(), Port: 1}
	other := &net.UDPAddr{IP: net.IPv4(192, 0, 2, 2).To4(), Port: 2}
	cidrs := func(ss ...string) []net.IPNet {
		var ns []net.IPNet
		for _, s := range ss {
			ns = append(ns, mustCIDR(t, s))
		}
		return ns
	}
	withEndpoint := wgtypes.PeerConfig{
		PublicKey:                   k1,
		PresharedKey:                &psk,
		Endpoint:                    ep,
		PersistentKeepaliveInterval: ptr(25 * time.Second),
		AllowedIPs:                  cidrs("10.0.1.0/24"),
	}
	fullRestore1 := wgtypes.PeerConfig{
		PublicKey:                   k1,
		PresharedKey:                &psk,
		Endpoint:                    ep,
		PersistentKeepaliveInterval: ptr(25 * time.Second),
		ReplaceAllowedIPs:           true,
		AllowedIPs:                  cidrs("10.0.1.0/24"),
	}
	noEndpoint := wgtypes.PeerConfig{PublicKey: k2, AllowedIPs: cidrs("10.0.2.0/24")}
	fullRestore2 := wgtypes.PeerConfig{
		PublicKey:                   k2,
		PresharedKey:                &wgtypes.Key{},
		PersistentKeepaliveInterval: ptr(time.Duration(0)),
		ReplaceAllowedIPs:           true,
		AllowedIPs:                  cidrs("10.0.2.0/24"),
	}
	remove := func(k wgtypes.Key) wgtypes.PeerConfig { return wgtypes.PeerConfig{PublicKey: k, Remove: true} }
	tests := []struct {
		name    string
		before  []wgtypes.PeerConfig
		changes []wgtypes.PeerConfig
		want    []wgtypes.PeerConfig
	}{
		{name: "nothing to undo"},
		{
			name:    "a new peer is removed",
			changes: []wgtypes.PeerConfig{{PublicKey: k3, Endpoint: other}},
			want:    []wgtypes.PeerConfig{remove(k3)},
		},
		{
			name:    "a changed peer gets back what changed",
			before:  []wgtypes.PeerConfig{withEndpoint},
			changes: []wgtypes.PeerConfig{{PublicKey: k1, Endpoint: other, PresharedKey: &wgtypes.Key{}}},
			want:    []wgtypes.PeerConfig{{PublicKey: k1, PresharedKey: &psk, Endpoint: ep}},
		},
		{
			name:    "allowed IPs are replaced by the old ones",
			before:  []wgtypes.PeerConfig{withEndpoint},
			changes: []wgtypes.PeerConfig{{PublicKey: k1, AllowedIPs: cidrs("10.0.9.0/24")}},
			want:    []wgtypes.PeerConfig{{PublicKey: k1, ReplaceAllowedIPs: true, AllowedIPs: cidrs("10.0.1.0/24")}},
		},
		{
			name:    "an unchanged peer is named with nothing to set",
			before:  []wgtypes.PeerConfig{withEndpoint},
			changes: []wgtypes.PeerConfig{{PublicKey: k1, UpdateOnly: true, AllowedIPs: cidrs("10.0.1.0/24")}},
			want:    []wgtypes.PeerConfig{{PublicKey: k1}},
		},
		{
			name:    "a removed peer is added back in full",
			before:  []wgtypes.PeerConfig{withEndpoint},
			changes: []wgtypes.PeerConfig{remove(k1)},
			want:    []wgtypes.PeerConfig{fullRestore1},
		},
		{
			name:    "a removed peer without endpoint is removed again first, in case it got one",
			before:  []wgtypes.PeerConfig{noEndpoint},
			changes: []wgtypes.PeerConfig{{PublicKey: k2, Endpoint: other}, remove(k2)},
			want:    []wgtypes.PeerConfig{remove(k2), fullRestore2},
		},
		{
			name:    "a peer without endpoint that got one is removed and added back",
			before:  []wgtypes.PeerConfig{noEndpoint},
			changes: []wgtypes.PeerConfig{{PublicKey: k2, Endpoint: other}},
			want:    []wgtypes.PeerConfig{remove(k2), fullRestore2},
		},
		{
			name:    "a peer whose allowed IP another took gets it back",
			before:  []wgtypes.PeerConfig{withEndpoint, noEndpoint},
			changes: []wgtypes.PeerConfig{{PublicKey: k3, AllowedIPs: cidrs("10.0.2.0/24")}},
			want: []wgtypes.PeerConfig{
				remove(k3),
				{PublicKey: k2, ReplaceAllowedIPs: true, AllowedIPs: cidrs("10.0.2.0/24")},
			},
		},
		{
			name:    "absent peers with update_only are not touched",
			changes: []wgtypes.PeerConfig{{PublicKey: k3, UpdateOnly: true, Endpoint: other}, remove(k2)},
		},
		{
			name:   "each peer once, in the order the batch first touched it",
			before: []wgtypes.PeerConfig{withEndpoint, noEndpoint},
			changes: []wgtypes.PeerConfig{
				{PublicKey: k3},
				{PublicKey: k1, PersistentKeepaliveInterval: ptr(time.Second)},
				remove(k3),
				{PublicKey: k3},
			},
			want: []wgtypes.PeerConfig{remove(k3), {PublicKey: k1, PersistentKeepaliveInterval: ptr(25 * time.Second)}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := recordOf(tt.before...)
			want := recordOf(tt.before...)
			j := r.apply(tt.changes)
			if got := r.undo(j); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("undo =\n%+v\nwant\n%+v", got, tt.want)
			}
			r.revert(j)
			if !reflect.DeepEqual(r, want) {
				t.Errorf("revert left the record\n%+v\nwant\n%+v", r, want)
			}
		})
	}
}

// refusingBind is a real bind whose ParseEndpoint refuses the endpoints in
// refuse, so that a real device fails a UAPI set part-way, as
// wireguard-go's own tests inject faults through the bind.
type refusingBind struct {
	conn.Bind
	mu     sync.Mutex
	refuse map[string]bool
}

func (b *refusingBind) ParseEndpoint(s string) (conn.Endpoint, error) {
	b.mu.Lock()
	refused := b.refuse[s]
	b.mu.Unlock()
	if refused {
		return nil, fmt.Errorf("test bind refuses endpoint %s", s)
	}
	return b.Bind.ParseEndpoint(s)
}

func (b *refusingBind) refuseEndpoint(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refuse[s] = true
}

// newRefusingTunnel makes a netstack Tunnel as NewNetstack does, but on a
// refusingBind, closed at the end of the test.
func newRefusingTunnel(t *testing.T) (*Tunnel, *refusingBind) {
	t.Helper()
	cfg, err := Config{Name: "wgundo", PrivateKey: newKey(t), Logger: testLogger(t)}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	ndev, _, err := netstack.CreateNetTUN(nil, nil, cfg.MTU)
	if err != nil {
		t.Fatal(err)
	}
	bind := &refusingBind{Bind: conn.NewDefaultBind(), refuse: map[string]bool{}}
	tn, err := newTunnel(cfg, container.ModeNetstack, ndev, bind)
	if err != nil {
		t.Fatal(err)
	}
	if err := tn.up(); err != nil {
		tn.abort()
		t.Fatal(err)
	}
	tn.start()
	t.Cleanup(func() {
		if err := tn.Close(); err != nil {
			t.Errorf("closing: %v", err)
		}
	})
	return tn, bind
}

// peerSettings is what Configure sets on a peer, comparable, with allowed
// IPs sorted.
type peerSettings struct {
	PublicKey, PresharedKey wgtypes.Key
	Endpoint                string
	Keepalive               time.Duration
	AllowedIPs              string
}

func settingsOf(t *testing.T, tn *Tunnel) map[wgtypes.Key]peerSettings {
	t.Helper()
	peers, err := tn.Peers()
	if err != nil {
		t.Fatalf("Peers: %v", err)
	}
	m := make(map[wgtypes.Key]peerSettings, len(peers))
	for _, p := range peers {
		s := peerSettings{
			PublicKey:    p.PublicKey,
			PresharedKey: p.PresharedKey,
			Keepalive:    p.PersistentKeepaliveInterval,
			AllowedIPs:   strings.Join(ipNetStrings(p.AllowedIPs), ","),
		}
		if p.Endpoint != nil {
			s.Endpoint = p.Endpoint.String()
		}
		m[p.PublicKey] = s
	}
	return m
}

// TestConfigureRollback has a real device refuse the last peer of a batch:
// Configure reports the error and the device's peers are as before the
// batch, the earlier peers of the batch absent.
func TestConfigureRollback(t *testing.T) {
	testenv.GoroutineLeakCheck(t)
	tn, bind := newRefusingTunnel(t)
	const refused = "192.0.2.66:666"
	bind.refuseEndpoint(refused)

	psk := newKey(t)
	withEndpoint, noEndpoint, untouched, removed, robbed := newKey(t).PublicKey(), newKey(t).PublicKey(), newKey(t).PublicKey(), newKey(t).PublicKey(), newKey(t).PublicKey()
	if err := tn.Configure([]wgtypes.PeerConfig{
		{
			PublicKey:                   withEndpoint,
			PresharedKey:                &psk,
			Endpoint:                    &net.UDPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 1},
			PersistentKeepaliveInterval: ptr(25 * time.Second),
			AllowedIPs:                  []net.IPNet{mustCIDR(t, "10.0.1.0/24")},
		},
		{PublicKey: noEndpoint, AllowedIPs: []net.IPNet{mustCIDR(t, "10.0.2.0/24")}},
		{PublicKey: untouched, AllowedIPs: []net.IPNet{mustCIDR(t, "10.0.3.0/24")}},
		{PublicKey: removed, AllowedIPs: []net.IPNet{mustCIDR(t, "10.0.4.0/24")}},
		{PublicKey: robbed, AllowedIPs: []net.IPNet{mustCIDR(t, "10.0.5.0/24"), mustCIDR(t, "10.0.5.1/32")}},
	}); err != nil {
		t.Fatal(err)
	}
	before := settingsOf(t, tn)

	added, refusedPeer := newKey(t).PublicKey(), newKey(t).PublicKey()
	err := tn.Configure([]wgtypes.PeerConfig{
		// Giving an allowed IP to a peer takes it from its owner.
		{PublicKey: added, AllowedIPs: []net.IPNet{mustCIDR(t, "10.0.9.1/32"), mustCIDR(t, "10.0.5.0/24")}},
		{
			PublicKey:                   withEndpoint,
			PresharedKey:                &wgtypes.Key{},
			Endpoint:                    &net.UDPAddr{IP: net.IPv4(192, 0, 2, 2), Port: 2},
			PersistentKeepaliveInterval: ptr(time.Duration(0)),
			ReplaceAllowedIPs:           true,
			AllowedIPs:                  []net.IPNet{mustCIDR(t, "10.0.8.0/24")},
		},
		// The UAPI cannot take an endpoint away again.
		{PublicKey: noEndpoint, Endpoint: &net.UDPAddr{IP: net.IPv4(192, 0, 2, 3), Port: 3}, AllowedIPs: []net.IPNet{mustCIDR(t, "10.0.7.0/24")}},
		{PublicKey: removed, Remove: true},
		{PublicKey: refusedPeer, AllowedIPs: []net.IPNet{mustCIDR(t, "10.0.6.0/24")}, Endpoint: &net.UDPAddr{IP: net.IPv4(192, 0, 2, 66), Port: 666}},
	})
	if err == nil {
		t.Fatal("Configure succeeded though the device refused the last peer")
	}
	if errors.Is(err, ErrInvalidConfig) {
		t.Errorf("Configure error %v wraps ErrInvalidConfig; the input was valid, the device refused it", err)
	}
	after := settingsOf(t, tn)
	for _, k := range []wgtypes.Key{added, refusedPeer} {
		if _, ok := after[k]; ok {
			t.Errorf("peer %s of the failed batch is on the device", k)
		}
	}
	for k, want := range before {
		if got, ok := after[k]; !ok {
			t.Errorf("peer %s is gone after the rollback", k)
		} else if got != want {
			t.Errorf("peer %s after the rollback:\n%+v\nwant\n%+v", k, got, want)
		}
	}
	if len(after) != len(before) {
		t.Errorf("%d peers after the rollback, want the %d from before", len(after), len(before))
	}

	// The device still takes changes.
	if err := tn.Configure([]wgtypes.PeerConfig{{PublicKey: added}}); err != nil {
		t.Fatalf("Configure after a rollback: %v", err)
	}
	if findPeer(t, tn, added) == nil {
		t.Error("peer not added after a rollback")
	}
}

// TestConfigureRollbackFails has the device refuse the rollback too: both
// errors are returned.
func TestConfigureRollbackFails(t *testing.T) {
	testenv.GoroutineLeakCheck(t)
	tn, bind := newRefusingTunnel(t)
	peer := newKey(t).PublicKey()
	if err := tn.Configure([]wgtypes.PeerConfig{{PublicKey: peer, Endpoint: &net.UDPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 1}}}); err != nil {
		t.Fatal(err)
	}
	// Putting the peer back needs its endpoint, which is refused from now on.
	bind.refuseEndpoint("192.0.2.1:1")
	bind.refuseEndpoint("192.0.2.66:666")
	err := tn.Configure([]wgtypes.PeerConfig{
		{PublicKey: peer, Endpoint: &net.UDPAddr{IP: net.IPv4(192, 0, 2, 5), Port: 5}},
		{PublicKey: newKey(t).PublicKey(), Endpoint: &net.UDPAddr{IP: net.IPv4(192, 0, 2, 66), Port: 666}},
	})
	if err == nil || !strings.Contains(err.Error(), "192.0.2.66:666") || !strings.Contains(err.Error(), "rolling back") {
		t.Fatalf("Configure = %v, want the device's error and the rollback's", err)
	}
}

// TestRecordMirrorsDevice applies random batches to a real device, every
// fifth ending in a peer the device refuses, and checks after each that the
// device's peers are what the record says: the record follows wireguard-go,
// and a refused batch leaves both as they were.
func TestRecordMirrorsDevice(t *testing.T) {
	testenv.GoroutineLeakCheck(t)
	tn, bind := newRefusingTunnel(t)
	const refused = "192.0.2.66:666"
	bind.refuseEndpoint(refused)
	rng := rand.New(rand.NewPCG(9, 9))
	keys := make([]wgtypes.Key, 6)
	for i := range keys {
		keys[i] = newKey(t).PublicKey()
	}
	pick := func(ss ...string) string { return ss[rng.IntN(len(ss))] }
	for batch := 0; batch < 300; batch++ {
		var changes []wgtypes.PeerConfig
		for range 1 + rng.IntN(4) {
			c := wgtypes.PeerConfig{PublicKey: keys[rng.IntN(len(keys))]}
			switch rng.IntN(8) {
			case 0:
				c.Remove = true
			case 1:
				c.UpdateOnly = true
			}
			if rng.IntN(3) == 0 {
				c.PresharedKey = ptr(testKey(byte(rng.IntN(3))))
			}
			if rng.IntN(3) == 0 {
				c.Endpoint = net.UDPAddrFromAddrPort(netip.MustParseAddrPort(pick("192.0.2.1:1", "192.0.2.2:2", "[2001:db8::1]:3")))
			}
			if rng.IntN(3) == 0 {
				c.PersistentKeepaliveInterval = ptr(time.Duration(rng.IntN(3)) * 10 * time.Second)
			}
			c.ReplaceAllowedIPs = rng.IntN(3) == 0
			for range rng.IntN(3) {
				c.AllowedIPs = append(c.AllowedIPs, mustCIDR(t, pick("10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24", "10.0.2.0/25", "10.0.3.7/32", "fd00::/64", "fd00:1::/64")))
			}
			changes = append(changes, c)
		}
		fail := batch%5 == 4
		if fail {
			changes = append(changes, wgtypes.PeerConfig{PublicKey: newKey(t).PublicKey(), Endpoint: net.UDPAddrFromAddrPort(netip.MustParseAddrPort(refused))})
		}
		before := settingsOf(t, tn)
		if err := tn.Configure(changes); (err != nil) != fail {
			t.Fatalf("batch %d: Configure = %v, want an error: %v", batch, err, fail)
		}
		got := settingsOf(t, tn)
		if fail && !reflect.DeepEqual(got, before) {
			t.Fatalf("batch %d was refused but changed the device %+v:\nbefore %+v\nafter  %+v", batch, changes, before, got)
		}
		want := make(map[wgtypes.Key]peerSettings)
		for k, p := range tn.rec.peers {
			s := peerSettings{PublicKey: k, PresharedKey: p.psk, Keepalive: p.keepalive}
			if p.endpoint.IsValid() {
				s.Endpoint = p.endpoint.String()
			}
			var allowed []net.IPNet
			for _, pfx := range p.allowed {
				allowed = append(allowed, net.IPNet{IP: pfx.Addr().AsSlice(), Mask: net.CIDRMask(pfx.Bits(), pfx.Addr().BitLen())})
			}
			s.AllowedIPs = strings.Join(ipNetStrings(allowed), ",")
			want[k] = s
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("batch %d (refused: %v) %+v:\ndevice %+v\nrecord %+v", batch, fail, changes, got, want)
		}
	}
}
