package agentclient_test

import (
	"testing"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/controller/agentclient"
	"github.com/wgfleet/wgfleet/controller/store"
)

// TestPoolStartsFromNodePaths: a node's client starts from the path
// family the node records, so a controller that restarts does not find it
// out again.
func TestPoolStartsFromNodePaths(t *testing.T) {
	p := agentclient.NewPool(agentclient.PoolOptions{})
	for _, tt := range []struct {
		id    int64
		paths string
		want  agentapi.PathFamily
	}{
		{1, "", agentapi.PathsUnknown},
		{2, "bare", agentapi.PathsBare},
		{3, "v1", agentapi.PathsV1},
	} {
		c, err := p.For(store.Node{ID: tt.id, AgentURL: "http://127.0.0.1:1", Secret: []byte("s"), APIPaths: tt.paths})
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Paths(); got != tt.want {
			t.Errorf("node with api_paths %q: client paths %q, want %q", tt.paths, got, tt.want)
		}
	}
	if _, err := p.For(store.Node{ID: 4, AgentURL: "http://127.0.0.1:1", Secret: []byte("s"), APIPaths: "both"}); err == nil {
		t.Error(`api_paths "both" accepted`)
	}
}
