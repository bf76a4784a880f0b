package controller_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/controllertest"
)

// TestPollWorkers: Config.PollWorkers reaches the poller. Eight nodes
// share one agent whose every answer is held 100 ms, so a cycle's reads
// overlap even on a loaded machine; the agent's count of calls in flight
// at once is then the poller's bound, 2 (the default, 32, would let all
// eight in), with no wall-clock assertion.
func TestPollWorkers(t *testing.T) {
	const nodes, workers = 8, 2
	s := agenttest.StartFake(t, agenttest.FakeOptions{})
	h := startControllerWith(t, controllertest.Options{PollInterval: time.Second, PollWorkers: workers})
	for i := range nodes {
		status, raw := h.call(http.MethodPost, "/api/nodes", map[string]any{
			"name": fmt.Sprintf("poll-workers-%d", i), "agent_url": s.URL, "secret": s.Secret, "wg_interface": "wg0",
			"endpoint": "127.0.0.1:51820", "ip_pool_cidr": fmt.Sprintf("10.98.%d.0/24", i), "enabled": true,
		}, nil)
		if status != http.StatusCreated {
			t.Fatalf("create node: %d %s", status, raw)
		}
	}
	eventually(t, 30*time.Second, "every node online and in sync", func() bool {
		var ns []nodeJSON
		h.call(http.MethodGet, "/api/nodes", nil, &ns)
		in := 0
		for _, n := range ns {
			if n.Status == "online" && n.AckedGeneration == n.DesiredGeneration {
				in++
			}
		}
		return in == nodes
	})
	s.Inject(agenttest.OpAny, agenttest.Fault{Delay: 100 * time.Millisecond})
	s.Reset()
	eventually(t, 60*time.Second, "two more polls of every node", func() bool { return s.Calls(agenttest.OpHealth) >= 2*nodes })
	for _, r := range s.Requests() {
		if r.Op != agenttest.OpHealth && r.Op != agenttest.OpDump {
			t.Fatalf("%s: not a poll's read of its agent", r.Op)
		}
	}
	if m := s.MaxInFlight(); m != workers {
		t.Fatalf("at most %d calls in flight, want %d", m, workers)
	}
}
