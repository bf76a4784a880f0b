package agentclient

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/store"
)

// TestSmallConnectionBuffersCarryLargeCalls: through the Pool's
// transport, whose connections' buffers are small (connReadBuffer,
// connWriteBuffer), a replace-all many times larger than the write buffer
// reaches the agent whole and the dump that reads it back, many times
// larger than the read buffer, shows every peer, on one connection kept
// between the calls.
func TestSmallConnectionBuffersCarryLargeCalls(t *testing.T) {
	tr, ok := NewPool(PoolOptions{}).hc.Transport.(*http.Transport)
	if !ok || tr.ReadBufferSize != connReadBuffer || tr.WriteBufferSize != connWriteBuffer {
		t.Fatalf("the Pool's transport: %T %+v, want the small buffers", tr, tr)
	}
	const peers = 2000
	a := agenttest.StartFake(t, agenttest.FakeOptions{Secret: "secret-a", Unserved: true})
	var conns atomic.Int64
	srv := serveCountingConns(t, a, &conns)
	p := NewPool(PoolOptions{})
	c, err := p.For(store.Node{ID: 1, AgentURL: srv.URL, Secret: []byte(a.Secret), WGInterface: "wg0"})
	if err != nil {
		t.Fatal(err)
	}
	want := make(map[string]string, peers)
	req := agentapi.SyncRequest{Peers: make([]agentapi.PeerSpec, peers)}
	for i := range req.Peers {
		k, err := wgtypes.GeneratePrivateKey()
		if err != nil {
			t.Fatal(err)
		}
		ip := fmt.Sprintf("10.%d.%d.%d/32", i>>16, (i>>8)&255, i&255)
		req.Peers[i] = agentapi.PeerSpec{PublicKey: k.PublicKey().String(), AllowedIPs: []string{ip}}
		want[req.Peers[i].PublicKey] = ip
	}
	if _, err := c.SyncPeers(t.Context(), "wg0", req); err != nil {
		t.Fatalf("replace-all of %d peers: %v", peers, err)
	}
	if got := len(a.Peers("wg0")); got != peers {
		t.Fatalf("the agent holds %d peers after the replace-all, want %d", got, peers)
	}
	d, err := c.Dump(t.Context(), "wg0")
	if err != nil {
		t.Fatalf("dump: %v", err)
	}
	if len(d.Peers) != peers {
		t.Fatalf("dump shows %d peers, want %d", len(d.Peers), peers)
	}
	for _, ap := range d.Peers {
		if ips := ap.AllowedIPs; len(ips) != 1 || want[ap.PublicKey] != ips[0] {
			t.Fatalf("dump shows peer %s with %v, want [%s]", ap.PublicKey, ips, want[ap.PublicKey])
		}
	}
	if got := conns.Load(); got != 1 {
		t.Errorf("%d connections for the calls, want 1 kept", got)
	}
}
