package metrics_test

import (
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/controller/metrics"
	"github.com/wgfleet/wgfleet/controller/store"
	"github.com/wgfleet/wgfleet/controller/store/storetest"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

func TestMetricsReflectTheStore(t *testing.T) {
	st := storetest.Open(t)
	ctx := context.Background()
	n, err := st.CreateNode(ctx, store.Node{
		Name: "edge-1", AgentURL: "http://127.0.0.1:1", Secret: []byte("0123456789abcdef-secret"),
		IPPool: netip.MustParsePrefix("10.8.0.0/24"), Enabled: true, Weight: 100, MaxPeers: 50,
	})
	if err != nil {
		t.Fatal(err)
	}
	var peerIDs []int64
	for i := 0; i < 3; i++ {
		k, _ := wgtypes.GeneratePrivateKey()
		p, err := st.CreatePeerWithAllocation(ctx, store.Peer{NodeID: n.ID, Name: fmt.Sprintf("peer-%d", i), PublicKey: k.PublicKey(), Enabled: true})
		if err != nil {
			t.Fatal(err)
		}
		peerIDs = append(peerIDs, p.ID)
	}
	if err := st.SetPeerSyncState(ctx, peerIDs[0], store.SyncApplied, ""); err != nil {
		t.Fatal(err)
	}
	if err := st.RecordPeerStats(ctx, peerIDs[0], time.Now(), 1000, 2000); err != nil {
		t.Fatal(err)
	}
	if err := st.RecordNodeHealth(ctx, n.ID, store.NodeOnline, nil, wgtypes.Key{}, "", true); err != nil {
		t.Fatal(err)
	}
	if _, err := st.RecordDrift(ctx, n.ID); err != nil {
		t.Fatal(err)
	}
	if err := st.SetCurrentDrift(ctx, n.ID, 2); err != nil {
		t.Fatal(err)
	}

	rec := httptest.NewRecorder()
	metrics.New(st, nil, nil).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	text := string(body)
	for _, want := range []string{
		`wgfleet_node_status{node="edge-1",status="online"} 1`,
		`wgfleet_node_status{node="edge-1",status="offline"} 0`,
		`wgfleet_node_peers{node="edge-1"} 3`,
		`wgfleet_node_max_peers{node="edge-1"} 50`,
		`wgfleet_node_peers_by_sync_state{node="edge-1",sync_state="applied"} 1`,
		`wgfleet_node_peers_by_sync_state{node="edge-1",sync_state="pending"} 2`,
		`wgfleet_node_receive_bytes_total{node="edge-1"} 1000`,
		`wgfleet_node_transmit_bytes_total{node="edge-1"} 2000`,
		`wgfleet_node_active_peers{node="edge-1"} 1`,
		`wgfleet_node_desired_generation{node="edge-1"} 3`,
		`wgfleet_node_drift_total{node="edge-1"} 1`,
		`wgfleet_node_drift_current{node="edge-1"} 2`,
		`wgfleet_scrape_error 0`,
		`go_goroutines`,
	} {
		if !strings.Contains(text, want+"\n") && !strings.Contains(text, want+" ") {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(text, "0123456789abcdef-secret") {
		t.Fatal("metrics carry the node secret")
	}
}
