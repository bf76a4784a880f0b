package tunnel

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

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

// inNetns runs fn on an OS thread switched into ns. The thread is never
// switched back: the goroutine exits locked, so the runtime retires it.
func inNetns(t *testing.T, ns netns.NsHandle, fn func()) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := netns.Set(ns); err != nil {
			done <- err
			return
		}
		fn()
		done <- nil
	}()
	if err := <-done; err != nil {
		t.Fatalf("entering network namespace: %v", err)
	}
}

// newTestNetns creates a named network namespace with loopback up, deleted
// when the test ends, and returns its name, a handle to it and a netlink
// handle working inside it. It uses `ip netns add`, not netns.NewNamed:
// iproute2 first makes /run/netns a shared mount of its own, and a
// namespace mounted before that happens (say by NewNamed while another
// test runs `ip netns` for the first time) ends up hidden under that mount
// where nothing can delete it.
func newTestNetns(t *testing.T) (string, netns.NsHandle, *netlink.Handle) {
	t.Helper()
	testenv.RequireCommand(t, "ip", "iproute2")
	name := "wgfleet-test-" + randomSuffix(8)
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "delete", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns delete %s: %v: %s", name, err, out)
		}
	})
	ns, err := netns.GetFromName(name)
	if err != nil {
		t.Fatalf("opening network namespace %s: %v", name, err)
	}
	t.Cleanup(func() { ns.Close() })
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatalf("netlink handle in %s: %v", name, err)
	}
	t.Cleanup(h.Close)
	lo, err := h.LinkByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.LinkSetUp(lo); err != nil {
		t.Fatal(err)
	}
	return name, ns, h
}

// TestTUNInNetns creates a TUN tunnel and a netstack tunnel inside a fresh
// network namespace, checks the link over netlink and the UAPI socket with
// wg(8), and passes TCP between the kernel and the netstack through
// WireGuard.
func TestTUNInNetns(t *testing.T) {
	requireRoot(t)
	testenv.GoroutineLeakCheck(t)
	nsName, ns, nl := newTestNetns(t)
	iface := "wgt" + randomSuffix(8)
	uapiDir := t.TempDir()

	var (
		tt, peer *Tunnel
		ln       net.Listener
		err      error
	)
	inNetns(t, ns, func() {
		tt, err = NewTUN(Config{
			Name:       iface,
			PrivateKey: newKey(t),
			Addresses:  prefixes(t, "10.99.0.1/24", "fd99::1/64"),
			MTU:        1380,
			Logger:     testLogger(t),
			UAPIDir:    uapiDir,
		})
		if err != nil {
			return
		}
		// The netstack tunnel's UDP socket and the kernel-side TCP
		// listener are made here too, so they live in the namespace.
		peer, err = NewNetstack(Config{
			Name:       "wgt-peer",
			PrivateKey: newKey(t),
			Addresses:  prefixes(t, "10.99.0.2/32"),
			Logger:     testLogger(t),
		})
		if err != nil {
			return
		}
		ln, err = net.Listen("tcp", "10.99.0.1:0")
	})
	if err != nil {
		t.Fatalf("setting up in namespace %s: %v", nsName, err)
	}
	t.Cleanup(func() {
		ln.Close()
		if err := peer.Close(); err != nil {
			t.Errorf("closing netstack peer: %v", err)
		}
	})
	closed := false
	t.Cleanup(func() {
		if !closed {
			tt.Close()
		}
	})

	if tt.Mode() != ModeTUN || tt.Net() != nil || tt.ListenPort() == 0 {
		t.Fatalf("mode %q, net %v, port %d", tt.Mode(), tt.Net(), tt.ListenPort())
	}
	if _, err := netlink.LinkByName(iface); err == nil {
		t.Fatalf("interface %s appeared in the test's own namespace", iface)
	}

	t.Run("link", func(t *testing.T) {
		link, err := nl.LinkByName(iface)
		if err != nil {
			t.Fatalf("interface %s not in namespace %s: %v", iface, nsName, err)
		}
		if got := link.Attrs().MTU; got != 1380 {
			t.Errorf("MTU %d, want 1380", got)
		}
		if link.Attrs().Flags&net.FlagUp == 0 {
			t.Error("link is not up")
		}
		addrs, err := nl.AddrList(link, netlink.FAMILY_ALL)
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
		inNetns(t, ns, func() {
			c, err := net.ListenUDP("udp4", &net.UDPAddr{Port: tt.ListenPort()})
			if err == nil {
				c.Close()
				t.Errorf("port %d is free inside the namespace", tt.ListenPort())
			}
		})
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
		dump := wgShowDump(t, nsName, uapiDir, iface)
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

	t.Run("a rebind from another goroutine stays in the namespace", func(t *testing.T) {
		// wg set arrives on the UAPI socket, which is served from a
		// goroutine in the test's namespace; wireguard-go reopens its
		// UDP sockets from there, and they must still land in ns.
		var newPort int
		inNetns(t, ns, func() {
			c, err := net.ListenUDP("udp4", &net.UDPAddr{})
			if err == nil {
				newPort = c.LocalAddr().(*net.UDPAddr).Port
				c.Close()
			}
		})
		if newPort == 0 {
			t.Fatal("no free UDP port in the namespace")
		}
		wgSet(t, nsName, uapiDir, iface, "listen-port", strconv.Itoa(newPort))
		waitPortState(t, ns, newPort, true)
		waitPortState(t, ns, tt.ListenPort(), false)
		if c, err := net.ListenUDP("udp4", &net.UDPAddr{Port: newPort}); err != nil {
			t.Errorf("port %d is taken in the test's own namespace too: %v", newPort, err)
		} else {
			c.Close()
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
		if _, err := nl.LinkByName(iface); err == nil {
			t.Error("interface still exists after Close")
		}
		if _, err := os.Stat(filepath.Join(uapiDir, iface+".sock")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("UAPI socket still there after Close: %v", err)
		}
	})
}

// waitPortState waits until UDP port is (bound) or is not (!bound) in use
// inside ns.
func waitPortState(t *testing.T, ns netns.NsHandle, port int, bound bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var inUse bool
		inNetns(t, ns, func() {
			c, err := net.ListenUDP("udp4", &net.UDPAddr{Port: port})
			inUse = errors.Is(err, unix.EADDRINUSE)
			if err == nil {
				c.Close()
			}
		})
		if inUse == bound {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("UDP port %d in use in the namespace = %v after 10s, want %v", port, inUse, bound)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// wgShowDump runs `wg show IFACE dump` in the namespace and returns its
// lines split into tab-separated fields. The output holds the private key:
// it is never logged.
func wgShowDump(t *testing.T, nsName, uapiDir, iface string) [][]string {
	t.Helper()
	out := runWG(t, nsName, uapiDir, iface, "show", iface, "dump")
	var lines [][]string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		lines = append(lines, strings.Split(l, "\t"))
	}
	return lines
}

// wgSet runs `wg set IFACE ARGS...` in the namespace.
func wgSet(t *testing.T, nsName, uapiDir, iface string, args ...string) {
	t.Helper()
	runWG(t, nsName, uapiDir, iface, append([]string{"set", iface}, args...)...)
}

// runWG runs wg(8) with args inside network namespace nsName (skipping the
// test when wireguard-tools is missing) and returns its output. wg(8) only
// looks for UAPI sockets in /var/run/wireguard, so iface's socket in
// uapiDir is linked there for the duration of the call.
func runWG(t *testing.T, nsName, uapiDir, iface string, args ...string) string {
	t.Helper()
	testenv.RequireCommand(t, "wg", "wireguard-tools")
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
	cmd := exec.Command("ip", append([]string{"netns", "exec", nsName, "wg"}, args...)...)
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
	requireRoot(t)
	testenv.GoroutineLeakCheck(t)
	_, ns, nl := newTestNetns(t)
	iface := "wgd" + randomSuffix(8)
	uapiDir := t.TempDir()
	var (
		tt  *Tunnel
		err error
	)
	inNetns(t, ns, func() {
		tt, err = NewTUN(Config{Name: iface, PrivateKey: newKey(t), UAPIDir: uapiDir, Logger: testLogger(t)})
	})
	if err != nil {
		t.Fatal(err)
	}
	defer tt.Close()

	// A name that is taken is refused, not attached to.
	inNetns(t, ns, func() {
		var dup *Tunnel
		dup, err = NewTUN(Config{Name: iface, PrivateKey: newKey(t), UAPIDir: uapiDir})
		if err == nil {
			dup.Close()
		}
	})
	if !errors.Is(err, ErrExists) {
		t.Fatalf("second NewTUN(%s) = %v, want ErrExists", iface, err)
	}

	link, err := nl.LinkByName(iface)
	if err != nil {
		t.Fatal(err)
	}
	if err := nl.LinkDel(link); err != nil {
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
