package agent

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"testing"

	"github.com/wgfleet/wgfleet/tunnel"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// TestDeviceRefusalFailsAlone: changes the device refuses (a zero key, the
// interface's own key) reach the committer mixed into 200 good ones, all
// at once, past the request validation that normally stops them. Each bad
// change fails alone with a 400; the 200 good ones land, on the real device
// and in the state file, and nothing of a bad one is left anywhere.
func TestDeviceRefusalFailsAlone(t *testing.T) {
	const good, bad = 200, 5
	priv, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	tun, err := tunnel.NewNetstack(tunnel.Config{Name: "wg0", PrivateKey: priv, Addresses: []netip.Prefix{netip.MustParsePrefix("10.99.0.1/24")}})
	if err != nil {
		t.Fatal(err)
	}
	defer tun.Close()
	dir := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	i, err := restoreIface("wg0", dir, tun, log)
	if err != nil {
		t.Fatal(err)
	}
	i.start()
	stopped := false
	defer func() {
		if !stopped {
			i.stop()
		}
	}()

	specs := make([]peerConf, 0, good+bad)
	for n := 0; n < good; n++ {
		k, err := wgtypes.GeneratePrivateKey()
		if err != nil {
			t.Fatal(err)
		}
		ip := netip.MustParsePrefix(fmt.Sprintf("10.100.%d.%d/32", n/256, n%256))
		specs = append(specs, peerConf{Key: k.PublicKey(), AllowedIPs: []netip.Prefix{ip}})
	}
	for n := 0; n < bad; n++ {
		k := wgtypes.Key{} // the device refuses the zero key...
		if n%2 == 1 {
			k = tun.PublicKey() // ...and the interface's own
		}
		ip := netip.MustParsePrefix(fmt.Sprintf("10.101.0.%d/32", n))
		// Spread the bad ones through the good so they share batches.
		at := (n + 1) * good / (bad + 1)
		specs = append(specs[:at], append([]peerConf{{Key: k, AllowedIPs: []netip.Prefix{ip}}}, specs[at:]...)...)
	}

	results := make([]error, len(specs))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for n, s := range specs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[n] = i.addPeer(s, nil)
		}()
	}
	close(start)
	wg.Wait()

	own := tun.PublicKey()
	var ok, refused int
	for n, err := range results {
		isBad := specs[n].Key == (wgtypes.Key{}) || specs[n].Key == own
		switch status, msg := statusOf(err); {
		case isBad && status == http.StatusBadRequest:
			refused++
		case isBad:
			t.Errorf("bad change %d: status %d (%v), want 400", n, status, err)
		case err == nil:
			ok++
		default:
			t.Errorf("good change %d failed with %d %q: %v", n, status, msg, err)
		}
	}
	if ok != good || refused != bad {
		t.Fatalf("%d good changes landed and %d bad refused, want %d and %d", ok, refused, good, bad)
	}
	peers, err := tun.Peers()
	if err != nil {
		t.Fatal(err)
	}
	if len(peers) != good {
		t.Errorf("device holds %d peers, want %d", len(peers), good)
	}
	for _, p := range peers {
		if p.PublicKey == (wgtypes.Key{}) || p.PublicKey == own {
			t.Errorf("device holds the refused key %s", p.PublicKey)
		}
	}
	if n := i.peerCount(); n != good {
		t.Errorf("peer set holds %d peers, want %d", n, good)
	}
	i.stop()
	stopped = true
	saved := loadState(t, dir, "wg0")
	if len(saved) != good {
		t.Errorf("state file holds %d peers, want %d", len(saved), good)
	}
}
