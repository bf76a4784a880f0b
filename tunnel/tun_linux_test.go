package tunnel

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/container"
	"github.com/wgfleet/wgfleet/internal/testenv"
)

// requireRoot skips the test unless it may create TUN devices and network
// namespaces: effective root and a usable /dev/net/tun.
func requireRoot(t *testing.T) {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireTUN(t)
}

// randomSuffix returns n random hex digits, to keep names unique across
// tests and concurrent test runs.
func randomSuffix(n int) string {
	b := make([]byte, (n+1)/2)
	rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

// hostPIDEnv passes the PID of the test process that started a helper, so
// that the helper, inside its own namespace, can look into the test's.
const hostPIDEnv = "WGFLEET_TEST_HOST_PID"

// execInNetns runs helper, a test of this binary, as a process in a fresh
// network namespace, telling it this process's PID.
func execInNetns(t *testing.T, prefix, helper string) {
	t.Helper()
	requireRoot(t)
	ns := testenv.NetNS(t, prefix)
	testenv.ExecInNetNS(t, ns, helper, hostPIDEnv+"="+strconv.Itoa(os.Getpid()))
}

// hostNetns returns, in a helper started by execInNetns, a netlink handle
// in the network namespace of the test that started it and the /proc/PID
// of that test. It fails if that namespace is the helper's own.
func hostNetns(t *testing.T) (*netlink.Handle, string) {
	t.Helper()
	proc := "/proc/" + os.Getenv(hostPIDEnv)
	host, err := netns.GetFromPath(proc + "/ns/net")
	if err != nil {
		t.Fatalf("the starting test's network namespace (%s=%q): %v", hostPIDEnv, os.Getenv(hostPIDEnv), err)
	}
	t.Cleanup(func() { host.Close() })
	here, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer here.Close()
	if here.Equal(host) {
		t.Fatal("the helper runs in the network namespace of the test that started it")
	}
	h, err := netlink.NewHandleAt(host)
	if err != nil {
		t.Fatalf("netlink handle in the starting test's namespace: %v", err)
	}
	t.Cleanup(h.Close)
	return h, proc
}

// udpPortInUse reports whether a UDP socket (IPv4 or IPv6) is bound to port
// in the network namespace of the process /proc/PID is proc.
func udpPortInUse(t *testing.T, proc string, port int) bool {
	t.Helper()
	suffix := fmt.Sprintf(":%04X", port)
	for _, f := range []string{"udp", "udp6"} {
		b, err := os.ReadFile(filepath.Join(proc, "net", f))
		if err != nil {
			t.Fatalf("reading sockets of %s: %v", proc, err)
		}
		// Lines: sl local_address rem_address st ..., addresses in hex as ADDR:PORT.
		for _, line := range strings.Split(string(b), "\n")[1:] {
			if f := strings.Fields(line); len(f) > 1 && strings.HasSuffix(f[1], suffix) {
				return true
			}
		}
	}
	return false
}

// TestTUNInNetns creates a TUN tunnel and a netstack tunnel inside a fresh
// network namespace, checks the link over netlink and the UAPI socket with
// wg(8), and passes TCP between the kernel and the netstack through
// WireGuard. The tunnels are made by a process inside the namespace, as a
// program run there would make them.
func TestTUNInNetns(t *testing.T) {
	execInNetns(t, "wgt", "TestHelperTUNInNetns")
}

// TestHelperTUNInNetns is TestTUNInNetns inside the namespace.
func TestHelperTUNInNetns(t *testing.T) {
	testenv.HelperOnly(t)
	testenv.GoroutineLeakCheck(t)
	requireRoot(t)
	hostNL, hostProc := hostNetns(t)
	iface := "wgt" + randomSuffix(8)
	uapiDir := t.TempDir()

	tt, err := NewTUN(Config{
		Name:       iface,
		PrivateKey: newKey(t),
		Addresses:  prefixes(t, "10.99.0.1/24", "fd99::1/64"),
		MTU:        1380,
		Logger:     testLogger(t),
		UAPIDir:    uapiDir,
	})
	if err != nil {
		t.Fatalf("NewTUN: %v", err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			tt.Close()
		}
	})
	peer, err := NewNetstack(Config{
		Name:       "wgt-peer",
		PrivateKey: newKey(t),
		Addresses:  prefixes(t, "10.99.0.2/32"),
		Logger:     testLogger(t),
	})
	if err != nil {
		t.Fatalf("NewNetstack: %v", err)
	}
	t.Cleanup(func() {
		if err := peer.Close(); err != nil {
			t.Errorf("closing netstack peer: %v", err)
		}
	})
	ln, err := net.Listen("tcp", "10.99.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })

	if tt.Mode() != container.ModeTUN || tt.Net() != nil || tt.ListenPort() == 0 {
		t.Fatalf("mode %q, net %v, port %d", tt.Mode(), tt.Net(), tt.ListenPort())
	}
	if _, err := hostNL.LinkByName(iface); err == nil {
		t.Fatalf("interface %s appeared in the starting test's namespace", iface)
	}

	t.Run("link", func(t *testing.T) {
		link, err := netlink.LinkByName(iface)
		if err != nil {
			t.Fatalf("interface %s not in the namespace: %v", iface, err)
		}
		if got := link.Attrs().MTU; got != 1380 {
			t.Errorf("MTU %d, want 1380", got)
		}
		if link.Attrs().Flags&net.FlagUp == 0 {
			t.Error("link is not up")
		}
		addrs, err := netlink.AddrList(link, netlink.FAMILY_ALL)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, a := range addrs {
			if !a.IP.IsLinkLocalUnicast() {
				got = append(got, a.IPNet.String())
			}
		}
		slices.Sort(got)
		if want := []string{"10.99.0.1/24", "fd99::1/64"}; !slices.Equal(got, want) {
			t.Errorf("addresses %v, want %v", got, want)
		}
	})

	t.Run("udp port is bound in the namespace", func(t *testing.T) {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{Port: tt.ListenPort()})
		if err == nil {
			c.Close()
			t.Errorf("port %d is free inside the namespace", tt.ListenPort())
		}
	})

	// Peers: the netstack tunnel, plus one more that never answers.
	other := newKey(t).PublicKey()
	psk := newKey(t)
	err = tt.Configure([]wgtypes.PeerConfig{
		peerOf(peer),
		{
			PublicKey:    other,
			PresharedKey: &psk,
			Endpoint:     &net.UDPAddr{IP: net.ParseIP("192.0.2.9"), Port: 51820},
			AllowedIPs:   []net.IPNet{mustCIDR(t, "10.99.1.0/24")},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := peer.Configure([]wgtypes.PeerConfig{{
		PublicKey:  tt.PublicKey(),
		Endpoint:   &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: tt.ListenPort()},
		AllowedIPs: []net.IPNet{mustCIDR(t, "10.99.0.0/24")},
	}}); err != nil {
		t.Fatal(err)
	}

	t.Run("tcp between kernel and netstack", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		echo := make(chan error, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				echo <- err
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(30 * time.Second))
			_, err = io.Copy(c, c)
			echo <- err
		}()
		dst := netip.AddrPortFrom(netip.MustParseAddr("10.99.0.1"), uint16(ln.Addr().(*net.TCPAddr).Port))
		c, err := peer.Net().DialContextTCPAddrPort(ctx, dst)
		if err != nil {
			t.Fatalf("dialing the kernel through WireGuard: %v", err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		payload := make([]byte, 256<<10)
		rand.Read(payload)
		go func() {
			c.Write(payload)
			c.CloseWrite()
		}()
		got, err := io.ReadAll(c)
		if err != nil {
			t.Fatalf("reading the echo: %v", err)
		}
		if !bytes.Equal(got, payload) {
			t.Fatalf("echo returned %d bytes that differ from the %d sent", len(got), len(payload))
		}
		if err := <-echo; err != nil {
			t.Fatalf("echo server: %v", err)
		}
	})

	t.Run("wg show reads the UAPI socket", func(t *testing.T) {
		sock := filepath.Join(uapiDir, iface+".sock")
		fi, err := os.Stat(sock)
		if err != nil {
			t.Fatalf("UAPI socket: %v", err)
		}
		if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o600 {
			t.Errorf("UAPI socket mode %v, want a 0600 socket", fi.Mode())
		}
		dump := wgShowDump(t, uapiDir, iface)
		if len(dump) != 3 {
			t.Fatalf("wg show dump has %d lines, want the interface and 2 peers", len(dump))
		}
		// Interface line: private-key public-key listen-port fwmark.
		if f := dump[0]; f[1] != tt.PublicKey().String() || f[2] != strconv.Itoa(tt.ListenPort()) {
			t.Errorf("interface line has public key %s port %s, want %s %d", f[1], f[2], tt.PublicKey(), tt.ListenPort())
		}
		// Peer lines: public-key preshared-key endpoint allowed-ips
		// latest-handshake rx tx keepalive.
		peers := map[string][]string{}
		for _, f := range dump[1:] {
			peers[f[0]] = f
		}
		if f := peers[peer.PublicKey().String()]; f == nil {
			t.Error("netstack peer missing from wg show")
		} else if f[3] != "10.99.0.2/32" || f[4] == "0" {
			t.Errorf("netstack peer: allowed %s handshake %s, want 10.99.0.2/32 and a handshake", f[3], f[4])
		}
		if f := peers[other.String()]; f == nil {
			t.Error("second peer missing from wg show")
		} else if f[1] != psk.String() || f[2] != "192.0.2.9:51820" || f[3] != "10.99.1.0/24" {
			t.Errorf("second peer: endpoint %s allowed %s, psk match %v", f[2], f[3], f[1] == psk.String())
		}
	})

	t.Run("a rebind through the UAPI socket stays in the namespace", func(t *testing.T) {
		// wg set arrives on the UAPI socket, served from a goroutine of
		// its own; wireguard-go reopens its UDP sockets from there.
		c, err := net.ListenUDP("udp4", &net.UDPAddr{})
		if err != nil {
			t.Fatalf("no free UDP port in the namespace: %v", err)
		}
		newPort := c.LocalAddr().(*net.UDPAddr).Port
		c.Close()
		wgSet(t, uapiDir, iface, "listen-port", strconv.Itoa(newPort))
		waitPortState(t, newPort, true)
		waitPortState(t, tt.ListenPort(), false)
		if udpPortInUse(t, hostProc, newPort) {
			t.Errorf("port %d is taken in the starting test's namespace too", newPort)
		}
	})

	t.Run("close removes the interface and the socket", func(t *testing.T) {
		if err := tt.Close(); err != nil {
			t.Fatal(err)
		}
		closed = true
		select {
		case <-tt.Done():
		default:
			t.Fatal("Done not closed")
		}
		if _, err := netlink.LinkByName(iface); err == nil {
			t.Error("interface still exists after Close")
		}
		if _, err := os.Stat(filepath.Join(uapiDir, iface+".sock")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("UAPI socket still there after Close: %v", err)
		}
	})
}

// waitPortState waits until UDP port is (bound) or is not (!bound) in use
// in this process's network namespace.
func waitPortState(t *testing.T, port int, bound bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{Port: port})
		inUse := errors.Is(err, unix.EADDRINUSE)
		if err == nil {
			c.Close()
		}
		if inUse == bound {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("UDP port %d in use in the namespace = %v after 10s, want %v", port, inUse, bound)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// wgShowDump runs `wg show IFACE dump` and returns its lines split into
// tab-separated fields. The output holds the private key: it is never
// logged.
func wgShowDump(t *testing.T, uapiDir, iface string) [][]string {
	t.Helper()
	out := runWG(t, uapiDir, iface, "show", iface, "dump")
	var lines [][]string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		lines = append(lines, strings.Split(l, "\t"))
	}
	return lines
}

// wgSet runs `wg set IFACE ARGS...`.
func wgSet(t *testing.T, uapiDir, iface string, args ...string) {
	t.Helper()
	runWG(t, uapiDir, iface, append([]string{"set", iface}, args...)...)
}

// runWG runs wg(8) with args (skipping the test when wireguard-tools is
// missing) and returns its output. wg(8) only looks for UAPI sockets in
// /var/run/wireguard, so iface's socket in uapiDir is linked there for the
// duration of the call.
func runWG(t *testing.T, uapiDir, iface string, args ...string) string {
	t.Helper()
	wg := testenv.RequireCommand(t, "wg", "wireguard-tools")
	if uapiDir != DefaultUAPIDir {
		if err := os.MkdirAll(DefaultUAPIDir, 0o755); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(DefaultUAPIDir, iface+".sock")
		if err := os.Symlink(filepath.Join(uapiDir, iface+".sock"), link); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(link)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(wg, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("wg %s: %v: %s", args[0], err, stderr.String())
	}
	return string(out)
}

// TestTUNStopsWhenDeleted deletes the interface behind the Tunnel's back:
// the device stops on its own, Done is closed and the UAPI socket removed.
func TestTUNStopsWhenDeleted(t *testing.T) {
	execInNetns(t, "wgd", "TestHelperTUNStopsWhenDeleted")
}

// TestHelperTUNStopsWhenDeleted is TestTUNStopsWhenDeleted inside the
// namespace.
func TestHelperTUNStopsWhenDeleted(t *testing.T) {
	testenv.HelperOnly(t)
	testenv.GoroutineLeakCheck(t)
	requireRoot(t)
	iface := "wgd" + randomSuffix(8)
	uapiDir := t.TempDir()
	tt, err := NewTUN(Config{Name: iface, PrivateKey: newKey(t), UAPIDir: uapiDir, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer tt.Close()

	// A name that is taken is refused, not attached to.
	dup, err := NewTUN(Config{Name: iface, PrivateKey: newKey(t), UAPIDir: uapiDir})
	if err == nil {
		dup.Close()
	}
	if !errors.Is(err, ErrExists) {
		t.Fatalf("second NewTUN(%s) = %v, want ErrExists", iface, err)
	}

	link, err := netlink.LinkByName(iface)
	if err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkDel(link); err != nil {
		t.Fatal(err)
	}
	select {
	case <-tt.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Done not closed 10s after the interface was deleted")
	}
	if _, err := os.Stat(filepath.Join(uapiDir, iface+".sock")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("UAPI socket still there: %v", err)
	}
	if err := tt.Configure([]wgtypes.PeerConfig{{PublicKey: newKey(t).PublicKey()}}); !errors.Is(err, ErrClosed) {
		t.Errorf("Configure on a stopped tunnel = %v, want ErrClosed", err)
	}
}
