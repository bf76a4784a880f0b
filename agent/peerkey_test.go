package agent_test

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/agent/agenttest"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// unusableKeys are public keys no peer may hold on a: the zero key, the
// interface's own key and low-order points (one with the top bit set).
func unusableKeys(t *testing.T, a *agenttest.Agent) map[string]wgtypes.Key {
	t.Helper()
	point := func(h string) wgtypes.Key {
		b, err := hex.DecodeString(h)
		if err != nil || len(b) != 32 {
			t.Fatalf("bad test point %s", h)
		}
		return wgtypes.Key(b)
	}
	return map[string]wgtypes.Key{
		"zero":                 {},
		"own":                  a.Tunnel("wg0").PublicKey(),
		"order 1":              point("0100000000000000000000000000000000000000000000000000000000000000"),
		"order 8":              point("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
		"order 8, top bit set": point("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f11d7"),
	}
}

// TestUnusablePeerKeysRefused: a POST or a sync that names an unusable key
// is 400 with a message saying why, and changes nothing.
func TestUnusablePeerKeysRefused(t *testing.T) {
	a := agenttest.Start(t, agenttest.Options{})
	for name, k := range unusableKeys(t, a) {
		t.Run(name, func(t *testing.T) {
			body := []byte(`{"public_key": "` + k.String() + `", "allowed_ips": ["10.0.1.2/32"]}`)
			status, out := rawCall(t, a, "POST", "/wg/wg0/peers", body)
			if status != http.StatusBadRequest || !strings.Contains(errorText(t, out), "public_key refused") {
				t.Fatalf("POST: %d %s, want 400 public_key refused", status, out)
			}
			good := mustKey(t)
			body = []byte(`{"peers": [{"public_key": "` + good.String() + `", "allowed_ips": ["10.0.1.3/32"]}, {"public_key": "` + k.String() + `", "allowed_ips": ["10.0.1.2/32"]}]}`)
			status, out = rawCall(t, a, "PUT", "/v1/wg/wg0/peers", body)
			if status != http.StatusBadRequest || !strings.Contains(errorText(t, out), "peers[1]") {
				t.Fatalf("sync: %d %s, want 400 naming peers[1]", status, out)
			}
			if n := len(dumpOf(t, a).Peers); n != 0 {
				t.Fatalf("device holds %d peers after refusals", n)
			}
		})
	}
}

// TestBadPeersAmongConcurrentGoodOnes is issue 10's measurement: 5 POSTs
// of unusable keys among 200 good ones, all at once. Before, 132 of the
// good ones failed with 500; now the 200 land and the 5 get 400.
func TestBadPeersAmongConcurrentGoodOnes(t *testing.T) {
	const good = 200
	a := agenttest.Start(t, agenttest.Options{})
	c := a.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := c.Health(ctx); err != nil {
		t.Fatal(err)
	}
	type change struct {
		key wgtypes.Key
		bad bool
	}
	var changes []change
	for i := 0; i < good; i++ {
		changes = append(changes, change{key: mustKey(t)})
	}
	at := 0
	for _, k := range unusableKeys(t, a) {
		at += good / 6
		changes = append(changes[:at], append([]change{{key: k, bad: true}}, changes[at:]...)...)
	}
	errs := make([]error, len(changes))
	var wg sync.WaitGroup
	for i, ch := range changes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ip := fmt.Sprintf("10.%d.%d.%d/32", 100+i/65536, (i/256)%256, i%256)
			_, errs[i] = c.AddPeer(ctx, "wg0", agentapi.AddPeerRequest{PublicKey: ch.key.String(), AllowedIPs: []string{ip}})
		}()
	}
	wg.Wait()
	var landed, refused int
	for i, ch := range changes {
		var apiErr *agentapi.APIError
		switch {
		case ch.bad && errors.As(errs[i], &apiErr) && apiErr.StatusCode == http.StatusBadRequest:
			refused++
		case ch.bad:
			t.Errorf("unusable key %s: %v, want 400", ch.key, errs[i])
		case errs[i] == nil:
			landed++
		default:
			t.Errorf("good peer %d: %v", i, errs[i])
		}
	}
	if landed != good || refused != 5 {
		t.Fatalf("%d landed, %d refused; want %d and 5", landed, refused, good)
	}
	if n := len(dumpOf(t, a).Peers); n != good {
		t.Fatalf("device holds %d peers, want %d", n, good)
	}
}
