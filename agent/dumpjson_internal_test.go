package agent

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/tunnel"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// oracleDump is the dump as the agent encoded it before dumpJSON: every
// peer through wirePeer, the whole through json.Encoder.
func oracleDump(t *testing.T, name string, tun *tunnel.Tunnel) []byte {
	t.Helper()
	peers, err := tun.Peers()
	if err != nil {
		t.Fatal(err)
	}
	d := agentapi.Dump{Interface: name, Peers: make([]agentapi.Peer, 0, len(peers))}
	for _, p := range peers {
		d.Peers = append(d.Peers, wirePeer(p))
	}
	var b bytes.Buffer
	if err := json.NewEncoder(&b).Encode(d); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// dumpJSON is the dump of i as the agent writes it, of the length it
// announces.
func dumpJSON(t *testing.T, i *iface) []byte {
	t.Helper()
	d, err := i.dumpBody()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	size := d.size()
	n, err := d.WriteTo(&b)
	d.done()
	if err != nil || n != int64(b.Len()) || b.Len() != size {
		t.Fatalf("WriteTo = %d, %v; wrote %d bytes, size says %d", n, err, b.Len(), size)
	}
	return b.Bytes()
}

// TestDumpJSONMatchesEncoder: the dump encoded straight from the device's
// UAPI text is, byte for byte, what json.Encoder writes for the same
// peers, on a real device holding peers of every shape: endpoints IPv4,
// IPv6, IPv4-mapped and with a zone, keepalives, several allowed IPs of
// both families, none, a preshared key (never written).
func TestDumpJSONMatchesEncoder(t *testing.T) {
	priv, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	tun, err := tunnel.NewNetstack(tunnel.Config{Name: "wgdj0", PrivateKey: priv, Addresses: []netip.Prefix{netip.MustParsePrefix("10.97.0.1/24")}})
	if err != nil {
		t.Fatal(err)
	}
	defer tun.Close()
	i, err := restoreIface("wgdj0", t.TempDir(), tun, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}

	empty := dumpJSON(t, i)
	if want := oracleDump(t, "wgdj0", tun); !bytes.Equal(empty, want) {
		t.Fatalf("empty dump:\n%s\nwant\n%s", empty, want)
	}

	key := func() wgtypes.Key {
		k, err := wgtypes.GeneratePrivateKey()
		if err != nil {
			t.Fatal(err)
		}
		return k.PublicKey()
	}
	ka := 25 * time.Second
	psk := key()
	cidrs := func(s ...string) []net.IPNet {
		var out []net.IPNet
		for _, c := range s {
			_, n, err := net.ParseCIDR(c)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, *n)
		}
		return out
	}
	changes := []wgtypes.PeerConfig{
		{PublicKey: key(), AllowedIPs: cidrs("10.97.1.1/32")},
		{PublicKey: key(), Endpoint: &net.UDPAddr{IP: net.ParseIP("192.0.2.7"), Port: 51820}, PersistentKeepaliveInterval: &ka,
			AllowedIPs: cidrs("10.97.2.0/24", "fd00:97::/64", "10.97.3.4/32")},
		{PublicKey: key(), Endpoint: &net.UDPAddr{IP: net.ParseIP("2001:db8::9"), Port: 9}, PresharedKey: &psk},
		{PublicKey: key(), Endpoint: &net.UDPAddr{IP: net.ParseIP("::ffff:198.51.100.3"), Port: 1}},
		{PublicKey: key(), Endpoint: &net.UDPAddr{IP: net.ParseIP("fe80::1"), Port: 443, Zone: "eth0"}, AllowedIPs: cidrs("fd00:97:1::5/128")},
	}
	for n := range 900 { // about 270 kB of UAPI text: more than one part (tunnel.EachPeerInParts)
		changes = append(changes, wgtypes.PeerConfig{PublicKey: key(), AllowedIPs: cidrs(netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 98, byte(n >> 8), byte(n)}), 32).String())})
	}
	if err := tun.Configure(changes); err != nil {
		t.Fatal(err)
	}
	// The peer with an endpoint and a keepalive sends handshakes, which
	// count in its transfer_tx: compare a dump read while the device's
	// view did not change (the same before and after).
	var got, want []byte
	for attempt := 0; ; attempt++ {
		before := oracleDump(t, "wgdj0", tun)
		got = dumpJSON(t, i)
		want = oracleDump(t, "wgdj0", tun)
		if bytes.Equal(before, want) {
			break
		}
		if attempt == 20 {
			t.Fatal("the device's peers changed during each of 20 dumps")
		}
	}
	if !bytes.Equal(got, want) {
		at := 0
		for at < min(len(got), len(want)) && got[at] == want[at] {
			at++
		}
		t.Fatalf("dump differs from json.Encoder's at byte %d of %d (want %d):\n%.300s\nwant\n%.300s", at, len(got), len(want), got[max(0, at-100):], want[max(0, at-100):])
	}
	var d agentapi.Dump
	if err := json.Unmarshal(got, &d); err != nil || len(d.Peers) != len(changes) {
		t.Fatalf("dump decodes to %d peers, %v; want %d", len(d.Peers), err, len(changes))
	}
	if strings.Contains(string(got), psk.String()) {
		t.Fatal("the dump carries a preshared key")
	}
}

// FuzzPeerJSON holds appendPeerJSON to encoding/json: for any peer the
// UAPI parser can report, the bytes are those json.Marshal writes for
// wirePeer of the same peer.
func FuzzPeerJSON(f *testing.F) {
	f.Add([]byte{1, 2, 3}, "192.0.2.1", "", uint16(51820), int64(1732650000), int64(5), int64(7), int64(9), uint16(25), "10.0.0.1/32,fd00::/64")
	f.Add([]byte{}, "fe80::1", "eth0", uint16(1), int64(0), int64(1), int64(0), int64(0), uint16(0), "")
	f.Add([]byte{0xff}, "::ffff:1.2.3.4", "", uint16(9), int64(0), int64(0), int64(0), int64(0), uint16(65535), "::ffff:1.2.3.0/120")
	f.Add([]byte{}, "fe80::2", "a\"<>&\u2028\xff\x01", uint16(2), int64(0), int64(0), int64(0), int64(0), uint16(1), "0.0.0.0/0,::/0")
	f.Fuzz(func(t *testing.T, key []byte, addr, zone string, port uint16, sec, nsec, rx, tx int64, keepalive uint16, prefixes string) {
		v := tunnel.PeerView{ReceiveBytes: rx, TransmitBytes: tx, PersistentKeepalive: time.Duration(keepalive) * time.Second}
		copy(v.PublicKey[:], key)
		if sec >= 0 && nsec >= 0 && nsec < int64(time.Second) { // as the parser allows
			v.LastHandshakeSec, v.LastHandshakeNsec = sec, nsec
		}
		if a, err := netip.ParseAddr(addr); err == nil {
			if zone != "" && a.Is6() {
				a = a.WithZone(zone)
			}
			v.Endpoint = netip.AddrPortFrom(a, port)
		}
		for _, s := range strings.Split(prefixes, ",") {
			if p, err := netip.ParsePrefix(s); err == nil {
				v.AllowedIPs = append(v.AllowedIPs, p.Masked())
			}
		}
		got := appendPeerJSON([]byte("x"), &v)
		want, err := json.Marshal(wirePeer(v.Peer()))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got[1:], want) || got[0] != 'x' {
			t.Fatalf("appendPeerJSON:\n%s\nwant\n%s", got[1:], want)
		}
		if s, want := appendJSONString(nil, zone), mustMarshal(t, zone); !bytes.Equal(s, want) {
			t.Fatalf("appendJSONString(%q) = %s, want %s", zone, s, want)
		}
	})
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDumpsAtOnce: dumps read at the same time, each reusing the buffers
// an earlier one gave back, all write the same bytes (run with -race).
func TestDumpsAtOnce(t *testing.T) {
	priv, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	tun, err := tunnel.NewNetstack(tunnel.Config{Name: "wgdj1", PrivateKey: priv, Addresses: []netip.Prefix{netip.MustParsePrefix("10.94.0.1/24")}})
	if err != nil {
		t.Fatal(err)
	}
	defer tun.Close()
	i, err := restoreIface("wgdj1", t.TempDir(), tun, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	var changes []wgtypes.PeerConfig
	for n := range 900 { // more than one part
		k, err := wgtypes.GeneratePrivateKey()
		if err != nil {
			t.Fatal(err)
		}
		changes = append(changes, wgtypes.PeerConfig{PublicKey: k.PublicKey(),
			AllowedIPs: []net.IPNet{{IP: net.IPv4(10, 94, byte(1+n>>8), byte(n)).To4(), Mask: net.CIDRMask(32, 32)}}})
	}
	if err := tun.Configure(changes); err != nil {
		t.Fatal(err)
	}
	want := oracleDump(t, "wgdj1", tun)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 3 {
				d, err := i.dumpBody()
				if err != nil {
					t.Error(err)
					return
				}
				var b bytes.Buffer
				_, err = d.WriteTo(&b)
				d.done()
				if err != nil || !bytes.Equal(b.Bytes(), want) {
					t.Errorf("a dump read with others: %v, or not the oracle's %d bytes (%d)", err, len(want), b.Len())
					return
				}
			}
		})
	}
	wg.Wait()
}
