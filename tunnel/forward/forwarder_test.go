package forward

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/tun/netstack"

	"github.com/wgfleet/wgfleet/internal/testenv"
)

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no policy", Config{}, "no egress policy"},
		{"negative limit", Config{Policy: allowAll, MaxTCPConns: -1}, "MaxTCPConns -1"},
		{"negative flows", Config{Policy: allowAll, MaxUDPFlows: -2}, "MaxUDPFlows -2"},
		{"negative idle", Config{Policy: allowAll, UDPIdleTimeout: -time.Second}, "UDPIdleTimeout"},
		{"tiny mtu", Config{Policy: allowAll, MTU: 100}, "MTU 100"},
		{"mapped address", Config{Policy: allowAll, Addresses: []netip.Prefix{netip.MustParsePrefix("::ffff:10.0.0.1/128")}}, "not valid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := New(tt.cfg)
			if err == nil {
				f.Close()
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

func TestLifecycle(t *testing.T) {
	testenv.GoroutineLeakCheck(t)
	// Closed without ever wrapping.
	f, err := New(Config{Policy: allowAll})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Wrap(nil); err == nil {
		t.Fatal("Wrap after Close succeeded")
	}

	// Wrapped once; the wrapped device closes everything, twice is fine.
	f, err = New(Config{Policy: allowAll})
	if err != nil {
		t.Fatal(err)
	}
	dev, _, err := netstack.CreateNetTUN([]netip.Addr{netip.MustParseAddr("10.9.0.1")}, nil, 1420)
	if err != nil {
		t.Fatal(err)
	}
	w, err := f.Wrap(dev)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Wrap(dev); err == nil {
		t.Fatal("second Wrap succeeded")
	}
	if mtu, _ := w.MTU(); mtu != 1420 {
		t.Fatalf("MTU %d", mtu)
	}
	done := make(chan struct{})
	go func() {
		bufs, sizes := [][]byte{make([]byte, 2000)}, []int{0}
		_, err := w.Read(bufs, sizes, 0)
		if err == nil {
			t.Error("Read returned no error after Close")
		}
		close(done)
	}()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Read did not return after Close")
	}
}

// TestWriteDropsGarbage writes malformed and undeliverable packets: they
// are counted as dropped, never an error to WireGuard.
func TestWriteDropsGarbage(t *testing.T) {
	testenv.GoroutineLeakCheck(t)
	f, err := New(Config{Policy: allowAll, Addresses: []netip.Prefix{netip.MustParsePrefix("10.9.0.1/24")}})
	if err != nil {
		t.Fatal(err)
	}
	dev, _, err := netstack.CreateNetTUN([]netip.Addr{netip.MustParseAddr("10.9.0.1")}, nil, 1420)
	if err != nil {
		t.Fatal(err)
	}
	w, err := f.Wrap(dev)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	const off = 16
	pad := func(p []byte) []byte { return append(make([]byte, off), p...) }
	bufs := [][]byte{
		pad([]byte{0x45, 1, 2}),
		pad([]byte{0x70, 0, 0, 0}),
		pad(ip4("10.9.0.2", "224.0.0.251", protoUDP, 64, ports(5353, 5353))),
		pad(ip4("10.9.0.2", "1.1.1.1", 47, 64, nil)),
		make([]byte, off), // empty: skipped
	}
	n, err := w.Write(bufs, off)
	if err != nil || n != len(bufs) {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if s := f.Stats(); s.Dropped != 4 {
		t.Fatalf("dropped %d, want 4", s.Dropped)
	}
}
