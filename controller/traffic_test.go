package controller_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/controllertest"
	history "github.com/wgfleet/wgfleet/controller/traffic"
	"github.com/wgfleet/wgfleet/internal/testenv"
)

// TestTrafficHistoryOfRealTraffic: real WireGuard traffic through a real
// agent shows in the peer's and the node's 24h series: the peer's series
// sums to exactly its usage (what data limits count), at least what was
// sent both ways, and the node's series holds it too.
func TestTrafficHistoryOfRealTraffic(t *testing.T) {
	a := agenttest.Start(t, agenttest.Options{})
	h := startControllerWith(t, controllertest.Options{PollInterval: time.Second})
	n := h.addNode("node-hist", a, "10.99.0.0/24")
	key, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	var p lifePeer
	if status, raw := h.call("POST", fmt.Sprintf("/api/nodes/%d/peers", n.ID), map[string]any{
		"name": "charted", "public_key": key.PublicKey().String(),
	}, &p); status >= 300 {
		t.Fatalf("create peer: %d %s", status, raw)
	}
	settled(t, h, a, p, "active", true)

	const size = 48 << 10
	if err := a.Exchange(key, mustAddr(t, p.Address4), size, 20*time.Second); err != nil {
		t.Fatalf("exchange: %v", err)
	}
	series := func(path string) history.Series {
		t.Helper()
		var s history.Series
		if status, raw := h.call("GET", path, nil, &s); status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, status, raw)
		}
		return s
	}
	var (
		ps    history.Series
		usage int64
	)
	eventually(t, 20*time.Second, "the exchange in the peer's series, equal to its usage", func() bool {
		ps = series(fmt.Sprintf("/api/peers/%d/traffic?range=24h", p.ID))
		usage = h.lifePeer(p.ID).Usage
		return ps.Rx >= size && ps.Tx >= size && ps.Rx+ps.Tx == usage
	})
	var inPoints int64
	for _, pt := range ps.Points {
		inPoints += pt.Rx + pt.Tx
	}
	if inPoints != usage || len(ps.Points) != 1440 || ps.Step != 60 {
		t.Fatalf("peer series: %d points of %ds holding %d bytes, want 1440 of 60s holding the usage %d", len(ps.Points), ps.Step, inPoints, usage)
	}
	ns := series(fmt.Sprintf("/api/nodes/%d/traffic?range=7d", n.ID))
	if ns.Rx < ps.Rx || ns.Tx < ps.Tx || ns.Step != 3600 {
		t.Fatalf("node series by hour: rx %d tx %d step %d, want at least the peer's rx %d tx %d by 3600", ns.Rx, ns.Tx, ns.Step, ps.Rx, ps.Tx)
	}
}

// TestTrafficRecordedByTheControllerClock: the poller records a poll's
// traffic in the minute of the controller's clock (Config.Now), the one
// the series are laid on: with a clock three hours behind the real one,
// real traffic lands in the series' last minute, not three hours past its
// end.
func TestTrafficRecordedByTheControllerClock(t *testing.T) {
	a := agenttest.Start(t, agenttest.Options{})
	clock := testenv.NewClock(time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Second))
	h := startControllerWith(t, controllertest.Options{PollInterval: time.Second, Now: clock.Now})
	n := h.addNode("node-clock", a, "10.99.4.0/24")
	key, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	var p lifePeer
	if status, raw := h.call("POST", fmt.Sprintf("/api/nodes/%d/peers", n.ID), map[string]any{
		"name": "clocked", "public_key": key.PublicKey().String(),
	}, &p); status >= 300 {
		t.Fatalf("create peer: %d %s", status, raw)
	}
	settled(t, h, a, p, "active", true)
	const size = 16 << 10
	if err := a.Exchange(key, mustAddr(t, p.Address4), size, 20*time.Second); err != nil {
		t.Fatalf("exchange: %v", err)
	}
	var ps history.Series
	eventually(t, 20*time.Second, "the exchange in the peer's 24h series", func() bool {
		if status, raw := h.call("GET", fmt.Sprintf("/api/peers/%d/traffic?range=24h", p.ID), nil, &ps); status != http.StatusOK {
			t.Fatalf("GET traffic: %d %s", status, raw)
		}
		return ps.Rx >= size && ps.Tx >= size
	})
	last := ps.Points[len(ps.Points)-1]
	if want := clock.Now().UTC().Truncate(time.Minute); !last.T.Equal(want) || last.Rx+last.Tx != ps.Rx+ps.Tx {
		t.Fatalf("the series' last point is %v with %d bytes of %d, want %v (the clock's minute) with all of them",
			last.T, last.Rx+last.Tx, ps.Rx+ps.Tx, want)
	}
}
