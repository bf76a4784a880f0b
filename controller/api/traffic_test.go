package api

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/store"
	"github.com/wgfleet/wgfleet/controller/traffic"
	"github.com/wgfleet/wgfleet/internal/testenv"
)

// TestTrafficRoutes: a peer's and a node's series for each range (one
// point per step, ending at the step in progress, the recorded traffic in
// its steps, the sums), the nodes' totals, 400 naming range for a bad
// one, 404 for a peer or node that does not exist, 503 without history.
func TestTrafficRoutes(t *testing.T) {
	e := newEnv(t, envOptions{traffic: true})
	c := e.login(t)
	a := agenttest.Start(t, agenttest.Options{})
	n := createNode(t, c, "edge-t", a, "10.99.0.0/24")
	p := createPeer(t, c, n.ID, map[string]any{"name": "chatty"})

	now := e.clock.Now().UTC() // the env's clock stands still
	ctx := context.Background()
	records := []struct {
		at     time.Time
		rx, tx int64
	}{
		{now, 1000, 2000},                         // this minute
		{now.Add(-2 * time.Hour), 30, 40},         // two hours ago
		{now.Add(-3 * 24 * time.Hour), 500, 600},  // three days ago
		{now.Add(-25 * 24 * time.Hour), 7, 8},     // 25 days ago
		{now.Add(-200 * 24 * time.Hour), 900, 90}, // 200 days ago
	}
	for _, rec := range records {
		if err := e.st.InTx(ctx, func(tx *store.Tx) error {
			return tx.RecordTraffic(ctx, n.ID, rec.at, []store.TrafficDelta{{PeerID: p.ID, Rx: rec.rx, Tx: rec.tx}})
		}); err != nil {
			t.Fatal(err)
		}
	}
	// Sums what is complete; the series must not count it twice.
	if _, err := e.traffic.Rollup(ctx); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		rng          string
		step         int64
		points       int
		rx, tx       int64
		from         time.Time
		wantPointsAt map[time.Time]int64 // rx of some points
	}{
		{"24h", 60, 1440, 1030, 2040, now.Truncate(time.Minute).Add(-1439 * time.Minute),
			map[time.Time]int64{now.Add(-2 * time.Hour).Truncate(time.Minute): 30}},
		{"7d", 3600, 168, 1530, 2640, now.Truncate(time.Hour).Add(-167 * time.Hour),
			map[time.Time]int64{now.Add(-3 * 24 * time.Hour).Truncate(time.Hour): 500}},
		{"30d", 3600, 720, 1537, 2648, now.Truncate(time.Hour).Add(-719 * time.Hour), nil},
		{"1y", 86400, 365, 2437, 2738, now.Truncate(24 * time.Hour).Add(-364 * 24 * time.Hour),
			map[time.Time]int64{now.Add(-200 * 24 * time.Hour).Truncate(24 * time.Hour): 900}},
	} {
		for _, path := range []string{fmt.Sprintf("/api/peers/%d/traffic?range=%s", p.ID, tc.rng), fmt.Sprintf("/api/nodes/%d/traffic?range=%s", n.ID, tc.rng)} {
			var s traffic.Series
			c.do(t, "GET", path, nil).want(t, http.StatusOK).decode(t, &s)
			testenv.Equal(t, path+": range", s.Range, tc.rng)
			testenv.Equal(t, path+": step", s.Step, tc.step)
			testenv.Equal(t, path+": points", len(s.Points), tc.points)
			testenv.Equal(t, path+": rx", s.Rx, tc.rx)
			testenv.Equal(t, path+": tx", s.Tx, tc.tx)
			testenv.Equal(t, path+": from", s.From, tc.from)
			if len(s.Points) != tc.points {
				continue
			}
			testenv.Equal(t, path+": first point", s.Points[0].T, tc.from)
			step := time.Duration(tc.step) * time.Second
			var lastRx int64 // the records in the step in progress
			for _, rec := range records {
				if rec.at.Truncate(step).Equal(now.Truncate(step)) {
					lastRx += rec.rx
				}
			}
			testenv.Equal(t, path+": last point rx", s.Points[len(s.Points)-1].Rx, lastRx)
			for at, rx := range tc.wantPointsAt {
				i := int(at.Sub(tc.from) / (time.Duration(tc.step) * time.Second))
				testenv.Equal(t, fmt.Sprintf("%s: rx at %s", path, at), s.Points[i].Rx, rx)
			}
		}
	}

	var totals traffic.Totals
	c.do(t, "GET", "/api/traffic/nodes?range=7d", nil).want(t, http.StatusOK).decode(t, &totals)
	testenv.DeepEqual(t, "7d totals", totals.Nodes, []traffic.Total{{NodeID: n.ID, Rx: 1530, Tx: 2640}})
	c.do(t, "GET", "/api/traffic/nodes", nil).want(t, http.StatusOK).decode(t, &totals)
	testenv.Equal(t, "default totals range", totals.Range, "24h")
	testenv.DeepEqual(t, "24h totals", totals.Nodes, []traffic.Total{{NodeID: n.ID, Rx: 1030, Tx: 2040}})

	for _, path := range []string{
		fmt.Sprintf("/api/peers/%d/traffic?range=1h", p.ID),
		fmt.Sprintf("/api/nodes/%d/traffic?range=", n.ID) + "24h%20",
		"/api/traffic/nodes?range=1y", // hours are kept 30 days
	} {
		r := c.do(t, "GET", path, nil).want(t, http.StatusBadRequest)
		testenv.Equal(t, path+": field", r.field(), "range")
	}
	c.do(t, "GET", "/api/peers/9999/traffic", nil).want(t, http.StatusNotFound)
	c.do(t, "GET", "/api/nodes/9999/traffic?range=7d", nil).want(t, http.StatusNotFound)
	c.do(t, "GET", "/api/peers/x/traffic", nil).want(t, http.StatusBadRequest)
	e.anon().do(t, "GET", fmt.Sprintf("/api/peers/%d/traffic", p.ID), nil).want(t, http.StatusUnauthorized)

	plain := newEnv(t, envOptions{})
	plain.login(t).do(t, "GET", "/api/traffic/nodes", nil).want(t, http.StatusServiceUnavailable)
}
