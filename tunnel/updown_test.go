package tunnel

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/internal/testenv"
)

// TestSetUp: a device brought down keeps its peers and passes nothing: its
// UDP port is closed. Brought up again it binds the same port and carries
// traffic with the same peers.
func TestSetUp(t *testing.T) {
	testenv.GoroutineLeakCheck(t)
	a := newTestNetstack(t, "wgud-a", "10.78.0.1/24")
	b := newTestNetstack(t, "wgud-b", "10.78.0.2/24")
	connectPair(t, a, b)
	port := b.ListenPort()

	if !b.IsUp() {
		t.Fatal("a new tunnel is not up")
	}
	if err := b.SetUp(false); err != nil {
		t.Fatal(err)
	}
	if err := b.SetUp(false); err != nil {
		t.Fatalf("down twice: %v", err)
	}
	if b.IsUp() {
		t.Fatal("IsUp after SetUp(false)")
	}
	if peers, err := b.Peers(); err != nil || len(peers) != 1 || peers[0].PublicKey != a.PublicKey() {
		t.Fatalf("peers while down: %+v, %v; want a", peers, err)
	}
	// The port is free while down: another socket may take it. Go closes
	// a socket's descriptor once the receive goroutine blocked on it has
	// woken and left, a moment after the bind's Close returns, so the port
	// is tried for up to 5 s.
	var bindErr error
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
		if bindErr = err; err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			break
		}
	}
	if bindErr != nil {
		t.Errorf("UDP port %d still bound 5 s after the device went down: %v", port, bindErr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	if c, err := a.Net().DialContextTCPAddrPort(ctx, netip.MustParseAddrPort("10.78.0.2:8080")); err == nil {
		c.Close()
		t.Error("a reached b while b was down")
	}
	cancel()

	if err := b.SetUp(true); err != nil {
		t.Fatal(err)
	}
	if !b.IsUp() || b.ListenPort() != port {
		t.Fatalf("after SetUp(true): up %v, port %d; want up on %d", b.IsUp(), b.ListenPort(), port)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	transfer(ctx, t, a.Net(), b.Net(), netip.MustParseAddrPort("10.78.0.2:8080"), 64<<10)

	b.Close()
	if err := b.SetUp(true); err == nil {
		t.Error("SetUp after Close succeeded")
	}
}

// TestStartDown: a tunnel made with Config.Down stays down, whatever its
// device announces when it is made, until SetUp(true).
func TestStartDown(t *testing.T) {
	testenv.GoroutineLeakCheck(t)
	a := newTestNetstack(t, "wgsd-a", "10.79.0.1/24")
	b, err := NewNetstack(Config{Name: "wgsd-b", PrivateKey: newKey(t), Addresses: prefixes(t, "10.79.0.2/24"), Down: true, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.IsUp() {
		t.Fatal("a tunnel made down is up")
	}
	time.Sleep(100 * time.Millisecond) // time for the device to act on an "up" event, if it got one
	s, err := b.dev.IpcGet()
	if err != nil {
		t.Fatal(err)
	}
	if st, err := ParseDevice(strings.NewReader(s)); err != nil || st.ListenPort != 0 {
		t.Fatalf("the device bound UDP port %d while down (err %v)", st.ListenPort, err)
	}
	if err := b.Configure([]wgtypes.PeerConfig{peerOf(a)}); err != nil {
		t.Fatal(err)
	}
	if err := b.SetUp(true); err != nil {
		t.Fatal(err)
	}
	if b.ListenPort() == 0 {
		t.Fatal("no port bound after SetUp(true)")
	}
	if err := a.Configure([]wgtypes.PeerConfig{peerOf(b)}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	transfer(ctx, t, a.Net(), b.Net(), netip.MustParseAddrPort("10.79.0.2:8080"), 64<<10)
}
