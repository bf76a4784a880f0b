package tunnel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/conn/bindtest"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/tun/netstack"
	"golang.zx2c4.com/wireguard/tun/tuntest"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/container"
	"github.com/wgfleet/wgfleet/internal/testenv"
	"github.com/wgfleet/wgfleet/wgrules"
)

// testLogger sends device logs to the test log (debug level when -v).
func testLogger(t *testing.T) *slog.Logger {
	level := slog.LevelInfo
	if testing.Verbose() {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: level}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

func newKey(t testing.TB) wgtypes.Key {
	t.Helper()
	k, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func prefixes(t testing.TB, ss ...string) []netip.Prefix {
	t.Helper()
	var ps []netip.Prefix
	for _, s := range ss {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	return ps
}

// newTestNetstack makes a netstack Tunnel on an ephemeral port, closed at
// the end of the test.
func newTestNetstack(t *testing.T, name string, addrs ...string) *Tunnel {
	t.Helper()
	tn, err := NewNetstack(Config{
		Name:       name,
		PrivateKey: newKey(t),
		Addresses:  prefixes(t, addrs...),
		Logger:     testLogger(t),
	})
	if err != nil {
		t.Fatalf("NewNetstack(%s): %v", name, err)
	}
	t.Cleanup(func() {
		if err := tn.Close(); err != nil {
			t.Errorf("closing %s: %v", name, err)
		}
	})
	return tn
}

// hostPrefixes turns a tunnel's addresses into single-host allowed IPs.
func hostPrefixes(tn *Tunnel) []net.IPNet {
	var ns []net.IPNet
	for _, p := range tn.Addresses() {
		ns = append(ns, net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Addr().BitLen(), p.Addr().BitLen())})
	}
	return ns
}

// peerOf is the PeerConfig that makes tn reachable from another tunnel on
// this host.
func peerOf(tn *Tunnel) wgtypes.PeerConfig {
	return wgtypes.PeerConfig{
		PublicKey:         tn.PublicKey(),
		Endpoint:          &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: tn.ListenPort()},
		ReplaceAllowedIPs: true,
		AllowedIPs:        hostPrefixes(tn),
	}
}

func connectPair(t *testing.T, a, b *Tunnel) {
	t.Helper()
	if err := a.Configure([]wgtypes.PeerConfig{peerOf(b)}); err != nil {
		t.Fatalf("configuring %s: %v", a.Name(), err)
	}
	if err := b.Configure([]wgtypes.PeerConfig{peerOf(a)}); err != nil {
		t.Fatalf("configuring %s: %v", b.Name(), err)
	}
}

// transfer sends size random bytes over TCP from client's netstack to a
// listener on server's netstack at dst, and checks that the SHA-256 the
// server computes matches.
func transfer(ctx context.Context, t *testing.T, client, server *netstack.Net, dst netip.AddrPort, size int) {
	t.Helper()
	ln, err := server.ListenTCPAddrPort(dst)
	if err != nil {
		t.Fatalf("listen %v: %v", dst, err)
	}
	defer ln.Close()
	go testenv.ServeSHA256(ln)
	c, err := client.DialContextTCPAddrPort(ctx, dst)
	if err != nil {
		t.Fatalf("dial %v through the tunnel: %v", dst, err)
	}
	defer c.Close()
	if d, ok := ctx.Deadline(); ok {
		c.SetDeadline(d)
	}
	testenv.SendChecked(t, c, int64(size), 1)
}

func TestNetstackPairTransfer(t *testing.T) {
	testenv.GoroutineLeakCheck(t)
	a := newTestNetstack(t, "wgns-a", "10.77.0.1/24", "fd77::1/64")
	b := newTestNetstack(t, "wgns-b", "10.77.0.2/24", "fd77::2/64")
	if a.ListenPort() == 0 || b.ListenPort() == 0 || a.ListenPort() == b.ListenPort() {
		t.Fatalf("listen ports %d and %d: want two distinct bound ports", a.ListenPort(), b.ListenPort())
	}
	connectPair(t, a, b)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	transfer(ctx, t, a.Net(), b.Net(), netip.MustParseAddrPort("10.77.0.2:8080"), 1<<20)
	transfer(ctx, t, b.Net(), a.Net(), netip.MustParseAddrPort("[fd77::1]:8081"), 64<<10)

	peers, err := a.Peers()
	if err != nil {
		t.Fatal(err)
	}
	if len(peers) != 1 || peers[0].PublicKey != b.PublicKey() {
		t.Fatalf("a's peers = %+v, want only b", peers)
	}
	p := peers[0]
	if p.LastHandshakeTime.IsZero() || p.TransmitBytes < 1<<20 || p.ReceiveBytes < 64<<10 {
		t.Errorf("a's view of b: handshake %v, tx %d, rx %d; want a handshake and at least the payloads",
			p.LastHandshakeTime, p.TransmitBytes, p.ReceiveBytes)
	}
	if p.Endpoint == nil || p.Endpoint.Port != b.ListenPort() {
		t.Errorf("a's endpoint for b = %v, want port %d", p.Endpoint, b.ListenPort())
	}
}

// TestEachPeer: EachPeer reports the peers Peers does, each once, and an
// error of its function stops it and comes back as it is.
func TestEachPeer(t *testing.T) {
	testenv.GoroutineLeakCheck(t)
	tn := newTestNetstack(t, "wgeach", "10.79.0.1/24")
	psk, ka := newKey(t), 5*time.Second
	var changes []wgtypes.PeerConfig
	for n := range 50 {
		c := wgtypes.PeerConfig{PublicKey: newKey(t).PublicKey(), AllowedIPs: []net.IPNet{{IP: net.IPv4(10, 79, 1, byte(n)).To4(), Mask: net.CIDRMask(32, 32)}}}
		if n%3 == 0 {
			c.PresharedKey, c.PersistentKeepaliveInterval = &psk, &ka
			c.Endpoint = &net.UDPAddr{IP: net.ParseIP("2001:db8::1"), Port: 1000 + n}
			c.AllowedIPs = append(c.AllowedIPs, net.IPNet{IP: net.ParseIP(fmt.Sprintf("fd79::%d", n)), Mask: net.CIDRMask(128, 128)})
		}
		changes = append(changes, c)
	}
	if err := tn.Configure(changes); err != nil {
		t.Fatal(err)
	}
	got, want := readWhileStill(t, tn, func() []wgtypes.Peer {
		var got []wgtypes.Peer
		if err := tn.EachPeer(func(v *PeerView) error { got = append(got, v.Peer()); return nil }); err != nil {
			t.Fatal(err)
		}
		return got
	})
	if len(want) != len(changes) || !reflect.DeepEqual(got, want) {
		t.Fatalf("EachPeer gave %d peers, Peers %d (of %d); or they differ:\n%+v\n%+v", len(got), len(want), len(changes), got, want)
	}
	stop := errors.New("enough")
	calls := 0
	if err := tn.EachPeer(func(*PeerView) error { calls++; return stop }); err != stop || calls != 1 {
		t.Fatalf("EachPeer with a failing function = %v after %d calls, want its error after 1", err, calls)
	}
}

func TestConfigure(t *testing.T) {
	testenv.GoroutineLeakCheck(t)
	a := newTestNetstack(t, "wgcf-a", "10.78.0.1/24")
	b := newTestNetstack(t, "wgcf-b", "10.78.0.2/24")
	connectPair(t, a, b)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	transfer(ctx, t, a.Net(), b.Net(), netip.MustParseAddrPort("10.78.0.2:8080"), 32<<10)

	peerB := func() wgtypes.Peer {
		t.Helper()
		p := findPeer(t, a, b.PublicKey())
		if p == nil {
			t.Fatal("peer b is gone from a")
		}
		return *p
	}
	before := peerB()
	if before.LastHandshakeTime.IsZero() {
		t.Fatal("no handshake between a and b")
	}

	c, d, e := newKey(t).PublicKey(), newKey(t).PublicKey(), newKey(t).PublicKey()
	psk := newKey(t)
	t.Run("add two in one batch", func(t *testing.T) {
		err := a.Configure([]wgtypes.PeerConfig{
			{PublicKey: c, AllowedIPs: []net.IPNet{mustCIDR(t, "10.78.1.0/24")}},
			{
				PublicKey:                   d,
				Endpoint:                    &net.UDPAddr{IP: net.ParseIP("192.0.2.4"), Port: 51820},
				PersistentKeepaliveInterval: ptr(25 * time.Second),
				AllowedIPs:                  []net.IPNet{mustCIDR(t, "10.78.2.0/24"), mustCIDR(t, "fd78::/64")},
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		wantPeer(t, a, c, []string{"10.78.1.0/24"}, wgtypes.Key{}, 0)
		wantPeer(t, a, d, []string{"10.78.2.0/24", "fd78::/64"}, wgtypes.Key{}, 25*time.Second)
	})
	t.Run("update one peer's allowed IPs only", func(t *testing.T) {
		err := a.Configure([]wgtypes.PeerConfig{{
			PublicKey:         c,
			UpdateOnly:        true,
			ReplaceAllowedIPs: true,
			AllowedIPs:        []net.IPNet{mustCIDR(t, "10.78.3.0/24")},
		}})
		if err != nil {
			t.Fatal(err)
		}
		wantPeer(t, a, c, []string{"10.78.3.0/24"}, wgtypes.Key{}, 0)
		wantPeer(t, a, d, []string{"10.78.2.0/24", "fd78::/64"}, wgtypes.Key{}, 25*time.Second)
	})
	t.Run("append an allowed IP, keepalive unchanged", func(t *testing.T) {
		err := a.Configure([]wgtypes.PeerConfig{{PublicKey: d, AllowedIPs: []net.IPNet{mustCIDR(t, "10.78.4.0/24")}}})
		if err != nil {
			t.Fatal(err)
		}
		wantPeer(t, a, d, []string{"10.78.2.0/24", "10.78.4.0/24", "fd78::/64"}, wgtypes.Key{}, 25*time.Second)
	})
	t.Run("preshared key set and removed, keepalive off", func(t *testing.T) {
		if err := a.Configure([]wgtypes.PeerConfig{{PublicKey: d, UpdateOnly: true, PresharedKey: &psk}}); err != nil {
			t.Fatal(err)
		}
		wantPeer(t, a, d, []string{"10.78.2.0/24", "10.78.4.0/24", "fd78::/64"}, psk, 25*time.Second)
		err := a.Configure([]wgtypes.PeerConfig{{
			PublicKey:                   d,
			UpdateOnly:                  true,
			PresharedKey:                &wgtypes.Key{},
			PersistentKeepaliveInterval: ptr(time.Duration(0)),
		}})
		if err != nil {
			t.Fatal(err)
		}
		wantPeer(t, a, d, []string{"10.78.2.0/24", "10.78.4.0/24", "fd78::/64"}, wgtypes.Key{}, 0)
	})
	t.Run("update only does not create", func(t *testing.T) {
		err := a.Configure([]wgtypes.PeerConfig{{PublicKey: e, UpdateOnly: true, AllowedIPs: []net.IPNet{mustCIDR(t, "10.78.5.0/24")}}})
		if err != nil {
			t.Fatal(err)
		}
		if findPeer(t, a, e) != nil {
			t.Fatal("UpdateOnly created a peer")
		}
	})
	t.Run("remove", func(t *testing.T) {
		if err := a.Configure([]wgtypes.PeerConfig{{PublicKey: c, Remove: true}, {PublicKey: e, Remove: true}}); err != nil {
			t.Fatal(err)
		}
		if findPeer(t, a, c) != nil {
			t.Fatal("removed peer is still there")
		}
		wantPeer(t, a, d, []string{"10.78.2.0/24", "10.78.4.0/24", "fd78::/64"}, wgtypes.Key{}, 0)
	})
	t.Run("an invalid batch changes nothing", func(t *testing.T) {
		err := a.Configure([]wgtypes.PeerConfig{
			{PublicKey: e, AllowedIPs: []net.IPNet{mustCIDR(t, "10.78.6.0/24")}},
			{PublicKey: c, Endpoint: &net.UDPAddr{Port: 1}},
		})
		if !errors.Is(err, ErrInvalidConfig) {
			t.Fatalf("error = %v, want ErrInvalidConfig", err)
		}
		if findPeer(t, a, e) != nil {
			t.Fatal("the valid half of an invalid batch was applied")
		}
	})
	t.Run("own key is refused", func(t *testing.T) {
		err := a.Configure([]wgtypes.PeerConfig{{PublicKey: a.PublicKey()}})
		if !errors.Is(err, ErrInvalidConfig) {
			t.Fatalf("error = %v, want ErrInvalidConfig", err)
		}
	})
	t.Run("empty batch", func(t *testing.T) {
		if err := a.Configure(nil); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("many peers in one call", func(t *testing.T) {
		const n = 500
		var batch []wgtypes.PeerConfig
		for i := range n {
			batch = append(batch, wgtypes.PeerConfig{
				PublicKey:  newKey(t).PublicKey(),
				AllowedIPs: []net.IPNet{{IP: net.IPv4(10, 79, byte(i/256), byte(i%256)).To4(), Mask: net.CIDRMask(32, 32)}},
			})
		}
		if err := a.Configure(batch); err != nil {
			t.Fatal(err)
		}
		peers, err := a.Peers()
		if err != nil {
			t.Fatal(err)
		}
		if len(peers) != n+2 { // b and d
			t.Fatalf("%d peers, want %d", len(peers), n+2)
		}
		for i := 1; i < len(peers); i++ {
			if bytes.Compare(peers[i-1].PublicKey[:], peers[i].PublicKey[:]) >= 0 {
				t.Fatal("Peers is not sorted by public key")
			}
		}
		for i := range batch {
			batch[i] = wgtypes.PeerConfig{PublicKey: batch[i].PublicKey, Remove: true}
		}
		if err := a.Configure(batch); err != nil {
			t.Fatal(err)
		}
	})

	// Through all of that, b's session was never reset: the same
	// handshake, counters that only grew, and traffic still flows.
	after := peerB()
	if !after.LastHandshakeTime.Equal(before.LastHandshakeTime) {
		t.Errorf("b's last handshake changed from %v to %v", before.LastHandshakeTime, after.LastHandshakeTime)
	}
	if after.TransmitBytes < before.TransmitBytes || after.ReceiveBytes < before.ReceiveBytes {
		t.Errorf("b's counters went back: %d/%d -> %d/%d", before.TransmitBytes, before.ReceiveBytes, after.TransmitBytes, after.ReceiveBytes)
	}
	if got := ipNetStrings(after.AllowedIPs); strings.Join(got, ",") != "10.78.0.2/32" {
		t.Errorf("b's allowed IPs = %v, want [10.78.0.2/32]", got)
	}
	transfer(ctx, t, a.Net(), b.Net(), netip.MustParseAddrPort("10.78.0.2:8081"), 32<<10)
}

func findPeer(t *testing.T, tn *Tunnel, k wgtypes.Key) *wgtypes.Peer {
	t.Helper()
	peers, err := tn.Peers()
	if err != nil {
		t.Fatalf("Peers: %v", err)
	}
	for i := range peers {
		if peers[i].PublicKey == k {
			return &peers[i]
		}
	}
	return nil
}

func wantPeer(t *testing.T, tn *Tunnel, k wgtypes.Key, allowed []string, psk wgtypes.Key, keepalive time.Duration) {
	t.Helper()
	p := findPeer(t, tn, k)
	if p == nil {
		t.Fatalf("peer %s missing", k)
	}
	if got := ipNetStrings(p.AllowedIPs); strings.Join(got, ",") != strings.Join(allowed, ",") {
		t.Errorf("peer %s allowed IPs = %v, want %v", k, got, allowed)
	}
	if p.PresharedKey != psk {
		t.Errorf("peer %s has the wrong preshared key (zero: %v)", k, p.PresharedKey == wgtypes.Key{})
	}
	if p.PersistentKeepaliveInterval != keepalive {
		t.Errorf("peer %s keepalive = %v, want %v", k, p.PersistentKeepaliveInterval, keepalive)
	}
}

// ipNetStrings returns the prefixes sorted, since the device reports
// allowed IPs in trie order.
func ipNetStrings(ns []net.IPNet) []string {
	var ss []string
	for _, n := range ns {
		ss = append(ss, n.String())
	}
	slices.Sort(ss)
	return ss
}

func TestClose(t *testing.T) {
	testenv.GoroutineLeakCheck(t)
	tn, err := NewNetstack(Config{Name: "wgclose", PrivateKey: newKey(t), Addresses: prefixes(t, "10.80.0.1/24")})
	if err != nil {
		t.Fatal(err)
	}
	port := tn.ListenPort()
	select {
	case <-tn.Done():
		t.Fatal("Done closed before Close")
	default:
	}
	errs := make(chan error, 2)
	for range 2 {
		go func() { errs <- tn.Close() }()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	if err := tn.Close(); err != nil {
		t.Fatalf("third Close: %v", err)
	}
	select {
	case <-tn.Done():
	default:
		t.Fatal("Done not closed after Close")
	}
	if err := tn.Configure([]wgtypes.PeerConfig{{PublicKey: newKey(t).PublicKey()}}); !errors.Is(err, ErrClosed) {
		t.Errorf("Configure after Close = %v, want ErrClosed", err)
	}
	if _, err := tn.Peers(); !errors.Is(err, ErrClosed) {
		t.Errorf("Peers after Close = %v, want ErrClosed", err)
	}
	if err := tn.EachPeer(func(*PeerView) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Errorf("EachPeer after Close = %v, want ErrClosed", err)
	}
	// The UDP port was released.
	c, err := net.ListenUDP("udp4", &net.UDPAddr{Port: port})
	if err != nil {
		t.Fatalf("port %d still bound after Close: %v", port, err)
	}
	c.Close()
}

func TestListenPort(t *testing.T) {
	// Find a free port, then ask for it explicitly.
	c, err := net.ListenUDP("udp4", &net.UDPAddr{})
	if err != nil {
		t.Fatal(err)
	}
	port := c.LocalAddr().(*net.UDPAddr).Port
	c.Close()

	tn, err := NewNetstack(Config{Name: "wgport", PrivateKey: newKey(t), ListenPort: port})
	if err != nil {
		t.Fatal(err)
	}
	defer tn.Close()
	if tn.ListenPort() != port {
		t.Fatalf("ListenPort = %d, want %d", tn.ListenPort(), port)
	}
	if _, err := NewNetstack(Config{Name: "wgport2", PrivateKey: newKey(t), ListenPort: port}); err == nil {
		t.Fatal("a second tunnel bound the same port")
	}
}

func TestAccessors(t *testing.T) {
	key := newKey(t)
	addrs := prefixes(t, "10.81.0.1/24", "fd81::1/64")
	tn, err := NewNetstack(Config{Name: "wgacc", PrivateKey: key, Addresses: addrs})
	if err != nil {
		t.Fatal(err)
	}
	defer tn.Close()
	if tn.Name() != "wgacc" || tn.Mode() != container.ModeNetstack || tn.MTU() != wgrules.DefaultMTU || tn.Net() == nil {
		t.Errorf("Name %q Mode %q MTU %d Net %v", tn.Name(), tn.Mode(), tn.MTU(), tn.Net())
	}
	if tn.PublicKey() != key.PublicKey() {
		t.Error("PublicKey does not match the private key")
	}
	got := tn.Addresses()
	if fmt.Sprint(got) != fmt.Sprint(addrs) {
		t.Errorf("Addresses = %v, want %v", got, addrs)
	}
	got[0] = netip.Prefix{}
	if tn.Addresses()[0] != addrs[0] {
		t.Error("Addresses returned the Tunnel's own slice")
	}
}

func TestConfigValidation(t *testing.T) {
	key := newKey(t)
	tests := []struct {
		name string
		cfg  Config
	}{
		{"empty name", Config{PrivateKey: key}},
		{"long name", Config{Name: "abcdefghijklmnop", PrivateKey: key}},
		{"slash in name", Config{Name: "wg/0", PrivateKey: key}},
		{"space in name", Config{Name: "wg 0", PrivateKey: key}},
		{"dot name", Config{Name: ".", PrivateKey: key}},
		{"dotdot name", Config{Name: "..", PrivateKey: key}},
		{"zero key", Config{Name: "wg0"}},
		{"negative port", Config{Name: "wg0", PrivateKey: key, ListenPort: -1}},
		{"port too big", Config{Name: "wg0", PrivateKey: key, ListenPort: 65536}},
		{"MTU too small", Config{Name: "wg0", PrivateKey: key, MTU: 500}},
		{"MTU too big", Config{Name: "wg0", PrivateKey: key, MTU: 70000}},
		{"IPv6 below 1280", Config{Name: "wg0", PrivateKey: key, MTU: 1000, Addresses: prefixes(t, "fd00::1/64")}},
		{"invalid prefix", Config{Name: "wg0", PrivateKey: key, Addresses: []netip.Prefix{{}}}},
		{"duplicate address", Config{Name: "wg0", PrivateKey: key, Addresses: prefixes(t, "10.0.0.1/24", "10.0.0.1/32")}},
		{"mapped address", Config{Name: "wg0", PrivateKey: key, Addresses: prefixes(t, "::ffff:10.0.0.1/128")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tn, err := NewNetstack(tt.cfg)
			if err == nil {
				tn.Close()
				t.Fatal("NewNetstack accepted it")
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("error = %v, want ErrInvalidConfig", err)
			}
			if _, err := NewTUN(tt.cfg); !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("NewTUN error = %v, want ErrInvalidConfig", err)
			}
		})
	}
	t.Run("valid names", func(t *testing.T) {
		for _, name := range []string{"wg0", "a", "A_b=c+d.e-f", "123456789012345"} {
			if err := validName(name); err != nil {
				t.Errorf("validName(%q) = %v", name, err)
			}
		}
	})
}

func TestNoKeyInLogs(t *testing.T) {
	var buf bytes.Buffer
	key := newKey(t)
	l := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	tn, err := NewNetstack(Config{Name: "wglog", PrivateKey: key, Logger: l, Addresses: prefixes(t, "10.82.0.1/24")})
	if err != nil {
		t.Fatal(err)
	}
	if err := tn.Configure([]wgtypes.PeerConfig{{PublicKey: newKey(t).PublicKey(), PresharedKey: ptr(newKey(t))}}); err != nil {
		t.Fatal(err)
	}
	tn.Close()
	out := buf.String()
	if !strings.Contains(out, "wireguard interface up") {
		t.Fatalf("expected some logs, got %q", out)
	}
	for _, enc := range []string{key.String(), hexOf(key)} {
		if strings.Contains(out, enc) {
			t.Fatal("the private key reached the log")
		}
	}
	if os.Getenv("WGFLEET_SHOW_LOGS") != "" {
		t.Log(out)
	}
}

// TestWriteConfigDeviceFields gives a real wireguard-go device the device
// fields WriteConfig writes and reads them back from the device. (The
// listen port is bound by the in-memory bind's rules here; TestListenPort
// checks it on a real socket.)
func TestWriteConfigDeviceFields(t *testing.T) {
	testenv.GoroutineLeakCheck(t)
	dev := device.NewDevice(tuntest.NewChannelTUN().TUN(), bindtest.NewChannelBinds()[0], device.NewLogger(device.LogLevelSilent, ""))
	defer dev.Close()
	apply := func(cfg wgtypes.Config) DeviceState {
		t.Helper()
		var b strings.Builder
		if err := WriteConfig(&b, cfg); err != nil {
			t.Fatalf("WriteConfig: %v", err)
		}
		if err := dev.IpcSet(b.String()); err != nil {
			t.Fatalf("the device refused what WriteConfig wrote: %v", err)
		}
		s, err := dev.IpcGet()
		if err != nil {
			t.Fatal(err)
		}
		st, err := ParseDevice(strings.NewReader(s))
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	keys := func(st DeviceState) []wgtypes.Key {
		var ks []wgtypes.Key
		for _, p := range st.Peers {
			ks = append(ks, p.PublicKey)
		}
		slices.SortFunc(ks, func(a, b wgtypes.Key) int { return bytes.Compare(a[:], b[:]) })
		return ks
	}

	priv, k1, k2 := newKey(t), testKey(1), testKey(2)
	st := apply(wgtypes.Config{
		PrivateKey:   &priv,
		FirewallMark: ptr(7),
		Peers:        []wgtypes.PeerConfig{{PublicKey: k1}},
	})
	if st.PublicKey != priv.PublicKey() {
		t.Errorf("device public key %s, want %s", st.PublicKey, priv.PublicKey())
	}
	if st.FirewallMark != 7 {
		t.Errorf("fwmark %d, want 7", st.FirewallMark)
	}
	if got := keys(st); !slices.Equal(got, []wgtypes.Key{k1}) {
		t.Errorf("peers %v, want [%s]", got, k1)
	}

	st = apply(wgtypes.Config{FirewallMark: ptr(0), ReplacePeers: true, Peers: []wgtypes.PeerConfig{{PublicKey: k2}}})
	if st.PublicKey != priv.PublicKey() {
		t.Errorf("the private key changed without being named: public key %s, want %s", st.PublicKey, priv.PublicKey())
	}
	if st.FirewallMark != 0 {
		t.Errorf("fwmark %d after setting 0, want none", st.FirewallMark)
	}
	if got := keys(st); !slices.Equal(got, []wgtypes.Key{k2}) {
		t.Errorf("peers after replace_peers %v, want only [%s]", got, k2)
	}

	st = apply(wgtypes.Config{PrivateKey: &wgtypes.Key{}})
	if st.PublicKey != (wgtypes.Key{}) {
		t.Errorf("device still has a key (public %s) after setting the zero key", st.PublicKey)
	}
}

// FuzzWriteConfigDevice checks that whatever WriteConfig accepts,
// wireguard-go accepts too, and that the peer then reads back as written.
func FuzzWriteConfigDevice(f *testing.F) {
	tn, err := NewNetstack(Config{Name: "wgfuzz", PrivateKey: newKey(f)})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { tn.Close() })
	f.Add(byte(1), []byte{10, 0, 0, 1}, uint16(51820), uint16(25), []byte{10, 1, 0, 0}, byte(16), true, "")
	f.Add(byte(2), []byte{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, uint16(1), uint16(0), []byte{0xfd, 0}, byte(8), false, "eth0")
	f.Add(byte(3), []byte{}, uint16(0), uint16(65535), []byte{1, 2, 3, 4}, byte(40), false, "")
	f.Fuzz(func(t *testing.T, keySeed byte, epIP []byte, epPort, keepalive uint16, aIP []byte, aBits byte, psk bool, zone string) {
		pc := wgtypes.PeerConfig{PublicKey: testKey(keySeed)}
		if len(epIP) > 0 {
			pc.Endpoint = &net.UDPAddr{IP: epIP, Port: int(epPort), Zone: zone}
		}
		pc.PersistentKeepaliveInterval = ptr(time.Duration(keepalive) * time.Second)
		if psk {
			pc.PresharedKey = ptr(testKey(keySeed + 1))
		}
		if len(aIP) > 0 {
			pc.ReplaceAllowedIPs = true
			pc.AllowedIPs = []net.IPNet{{IP: aIP, Mask: net.CIDRMask(int(aBits), 8*len(aIP))}}
		}
		var b strings.Builder
		if err := WriteConfig(&b, wgtypes.Config{Peers: []wgtypes.PeerConfig{pc}}); err != nil {
			return
		}
		if err := tn.Configure([]wgtypes.PeerConfig{pc}); err != nil {
			t.Fatalf("WriteConfig accepted what the device refused:\n%s\n%v", b.String(), err)
		}
		defer tn.Configure([]wgtypes.PeerConfig{{PublicKey: pc.PublicKey, Remove: true}})
		p := findPeer(t, tn, pc.PublicKey)
		if p == nil {
			t.Fatal("peer not created")
		}
		if p.PersistentKeepaliveInterval != *pc.PersistentKeepaliveInterval {
			t.Errorf("keepalive %v, want %v", p.PersistentKeepaliveInterval, *pc.PersistentKeepaliveInterval)
		}
		if psk != (p.PresharedKey != wgtypes.Key{}) {
			t.Errorf("preshared key present = %v, want %v", !psk, psk)
		}
		if pc.Endpoint != nil {
			want, _ := endpointAddrPort(pc.Endpoint)
			if p.Endpoint == nil || p.Endpoint.AddrPort() != want {
				t.Errorf("endpoint %v, want %v", p.Endpoint, want)
			}
		}
		var want []string
		for _, n := range pc.AllowedIPs {
			pfx, _ := ipNetPrefix(n)
			want = append(want, pfx.String())
		}
		var got []string
		for _, n := range p.AllowedIPs {
			pfx, _ := ipNetPrefix(n)
			got = append(got, pfx.String())
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("allowed IPs %v, want %v", got, want)
		}
	})
}
