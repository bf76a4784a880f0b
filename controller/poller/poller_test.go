package poller

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/reconcile"
	"github.com/wgfleet/wgfleet/controller/store"
)

func TestOnlineOfflineOnline(t *testing.T) {
	f := newFixture(t)
	a := agenttest.Start(t, agenttest.Options{})
	n := f.addNode("n1", a.URL, a.Secret, a.Iface)
	p := f.poller(Config{})

	sum := p.PollOnce(f.ctx)
	if sum != (Summary{Nodes: 1, Polled: 1, Online: 1}) {
		t.Fatalf("summary %+v", sum)
	}
	got := f.node(n.ID)
	if got.Status != store.NodeOnline || got.LastSeen.IsZero() || got.ConsecutiveFailures != 0 {
		t.Fatalf("after a good poll: %+v", got)
	}
	var h agentapi.Health
	if err := json.Unmarshal(got.HealthJSON, &h); err != nil || h.Status != "ok" || !h.HasCapability(agentapi.CapPeerSync) {
		t.Fatalf("health document %s: %v", got.HealthJSON, err)
	}
	lastSeen := got.LastSeen

	if err := a.Stop(); err != nil {
		t.Fatalf("stopping the agent: %v", err)
	}
	for i := 1; i <= 3; i++ {
		f.clock.Advance(time.Hour) // past any backoff
		sum = p.PollOnce(f.ctx)
		if sum.Offline != 1 {
			t.Fatalf("poll %d with the agent down: %+v", i, sum)
		}
		got = f.node(n.ID)
		if got.Status != store.NodeOffline || got.ConsecutiveFailures != i || got.LastError == "" || !got.LastSeen.Equal(lastSeen) {
			t.Fatalf("poll %d: status %s failures %d error %q last seen %v", i, got.Status, got.ConsecutiveFailures, got.LastError, got.LastSeen)
		}
		if strings.Contains(got.LastError, a.Secret) {
			t.Fatal("last_error carries the secret")
		}
		// One sentence for people, the error chain apart as its detail.
		msg, detail := store.SplitNodeError(got.LastError)
		if host := strings.TrimPrefix(a.URL, "http://"); msg != "Cannot reach the agent at "+host+" (connection refused)" ||
			!strings.Contains(detail, "agent unreachable") || !strings.Contains(detail, "connection refused") {
			t.Fatalf("poll %d: last_error %q, detail %q", i, msg, detail)
		}
	}
	if err := p.PollNode(f.ctx, n.ID); !errors.Is(err, reconcile.ErrUnreachable) {
		t.Fatalf("PollNode with the agent down: %v", err)
	}

	agenttest.Start(t, agenttest.Options{Addr: a.Addr, StateDir: a.StateDir, Secret: a.Secret})
	f.clock.Advance(time.Hour)
	if sum = p.PollOnce(f.ctx); sum.Online != 1 {
		t.Fatalf("after restart: %+v", sum)
	}
	if got = f.node(n.ID); got.Status != store.NodeOnline || got.ConsecutiveFailures != 0 || got.LastError != "" {
		t.Fatalf("after restart: %+v", got)
	}
	f.clock.Advance(time.Hour)
	p.PollOnce(f.ctx)

	// Each transition logged once: unknown->online, online->offline,
	// offline->online; nothing for the repeated polls.
	logs := f.logs.String()
	if c := strings.Count(logs, `msg="node online"`); c != 2 {
		t.Errorf("online logged %d times, want 2:\n%s", c, logs)
	}
	if c := strings.Count(logs, `msg="node offline"`); c != 1 {
		t.Errorf("offline logged %d times, want 1:\n%s", c, logs)
	}
	if !strings.Contains(logs, "level=WARN msg=\"node offline\"") || strings.Contains(logs, a.Secret) {
		t.Errorf("offline not at warn, or the secret is logged:\n%s", logs)
	}
}

func TestErrorStatus(t *testing.T) {
	f := newFixture(t)
	a := agenttest.Start(t, agenttest.Options{})
	tests := []struct {
		name, secret, iface string
	}{
		{"missing interface", a.Secret, "wg9"},
		{"wrong secret", "not-the-secret", "wg0"},
	}
	p := f.poller(Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := f.addNode(tt.name, a.URL, tt.secret, tt.iface)
			err := p.PollNode(f.ctx, n.ID)
			if err == nil || errors.Is(err, reconcile.ErrUnreachable) {
				t.Fatalf("PollNode: %v", err)
			}
			got := f.node(n.ID)
			if got.Status != store.NodeError || got.ConsecutiveFailures != 1 || got.LastError == "" {
				t.Fatalf("status %s failures %d error %q", got.Status, got.ConsecutiveFailures, got.LastError)
			}
			if strings.Contains(got.LastError, "not-the-secret") || strings.Contains(f.logs.String(), "not-the-secret") {
				t.Fatal("secret in last_error or logs")
			}
		})
	}
}

func TestDisabledNodesAreNotPolled(t *testing.T) {
	f := newFixture(t)
	s := agenttest.StartFake(t, agenttest.FakeOptions{})
	n := f.addNode("n1", s.URL, s.Secret, "wg0")
	if err := f.store.SetNodeEnabled(f.ctx, n.ID, false); err != nil {
		t.Fatal(err)
	}
	p := f.poller(Config{})
	if sum := p.PollOnce(f.ctx); sum != (Summary{}) {
		t.Fatalf("summary %+v", sum)
	}
	if err := p.PollNode(f.ctx, n.ID); !errors.Is(err, reconcile.ErrNodeDisabled) {
		t.Fatalf("PollNode of a disabled node: %v", err)
	}
	if s.Calls(agenttest.OpAny) != 0 || f.node(n.ID).Status != store.NodeDisabled {
		t.Fatalf("disabled node polled: %d requests, status %s", s.Calls(agenttest.OpAny), f.node(n.ID).Status)
	}
	if err := p.PollNode(f.ctx, 999); !errors.Is(err, store.ErrNodeNotFound) {
		t.Fatalf("PollNode of an unknown node: %v", err)
	}
}

func TestBoundedParallelism(t *testing.T) {
	f := newFixture(t)
	s := agenttest.StartFake(t, agenttest.FakeOptions{})
	// Each request is held 100 ms, so the workers' requests overlap even on a
	// loaded machine; the agent's count of requests in flight at once then
	// shows the polling is parallel (more than 1) and bounded (not above 4),
	// with no wall-clock assertion.
	s.Inject(agenttest.OpAny, agenttest.Fault{Delay: 100 * time.Millisecond})
	for i := range 20 {
		f.addNode("n"+string(rune('a'+i)), s.URL, s.Secret, "wg0")
	}
	p := f.poller(Config{Workers: 4})
	sum := p.PollOnce(f.ctx)
	if sum.Online != 20 {
		t.Fatalf("summary %+v", sum)
	}
	if m := s.MaxInFlight(); m != 4 {
		t.Fatalf("at most %d requests in flight, want 4", m)
	}
}

func TestTimeoutPerNode(t *testing.T) {
	f := newFixture(t)
	s := agenttest.StartFake(t, agenttest.FakeOptions{})
	s.Inject(agenttest.OpAny, agenttest.Fault{Delay: 10 * time.Second})
	n := f.addNode("slow", s.URL, s.Secret, "wg0")
	p := f.poller(Config{Timeout: 100 * time.Millisecond})
	start := time.Now()
	if sum := p.PollOnce(f.ctx); sum.Offline != 1 {
		t.Fatalf("summary %+v", sum)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("timeout not applied: %v", d)
	}
	if got := f.node(n.ID); got.Status != store.NodeOffline {
		t.Fatalf("status %s", got.Status)
	}
}

func TestBackoffSkipsTicks(t *testing.T) {
	f := newFixture(t)
	s := agenttest.StartFake(t, agenttest.FakeOptions{})
	s.Inject(agenttest.OpAny, agenttest.Fault{Status: http.StatusInternalServerError})
	n := f.addNode("n1", s.URL, s.Secret, "wg0")
	p := f.poller(Config{Interval: time.Minute, MaxBackoff: 4 * time.Minute})

	// Failures in a row before each tick -> wait: 0 -> poll, 1 -> 1m,
	// 2 -> 2m, 3 -> 4m, 4 -> 4m (capped).
	var polled []int
	for tick := range 16 {
		if tick > 0 {
			f.clock.Advance(time.Minute)
		}
		sum := p.PollOnce(f.ctx)
		if sum.Polled+sum.Skipped != 1 {
			t.Fatalf("tick %d: %+v", tick, sum)
		}
		if sum.Polled == 1 {
			if sum.Error != 1 {
				t.Fatalf("tick %d: %+v, want error status", tick, sum)
			}
			polled = append(polled, tick)
		}
	}
	want := []int{0, 1, 3, 7, 11, 15}
	if !equalInts(polled, want) {
		t.Fatalf("polled at ticks %v, want %v", polled, want)
	}
	if got := f.node(n.ID); got.ConsecutiveFailures != len(want) || got.Status != store.NodeError {
		t.Fatalf("failures %d status %s", got.ConsecutiveFailures, got.Status)
	}
	if c := s.Calls(agenttest.OpAny); c != len(want) {
		t.Fatalf("agent saw %d requests, want %d", c, len(want))
	}

	// PollNode ignores backoff; success resets it.
	s.Clear()
	if err := p.PollNode(f.ctx, n.ID); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Minute)
	if sum := p.PollOnce(f.ctx); sum.Polled != 1 || sum.Online != 1 {
		t.Fatalf("after recovery: %+v", sum)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestBackoffSchedule(t *testing.T) {
	p := New(Config{Interval: time.Minute, MaxBackoff: 10 * time.Minute})
	for failures, want := range []time.Duration{0, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 10 * time.Minute, 10 * time.Minute} {
		if got := p.backoff(failures); got != want {
			t.Errorf("backoff(%d) = %v, want %v", failures, got, want)
		}
	}
	if got := p.backoff(1 << 20); got != 10*time.Minute {
		t.Errorf("backoff of many failures = %v", got)
	}
}

func TestJitterSpreadsCycles(t *testing.T) {
	p := New(Config{Interval: time.Minute, Jitter: 0.2})
	lo, hi := time.Hour, time.Duration(0)
	for range 1000 {
		d := p.nextDelay()
		lo, hi = min(lo, d), max(hi, d)
	}
	if lo < 48*time.Second || hi > 72*time.Second || hi-lo < 10*time.Second {
		t.Fatalf("delays in [%v, %v], want spread inside [48s, 72s]", lo, hi)
	}
	if d := New(Config{Interval: time.Minute, Jitter: -1}).nextDelay(); d != time.Minute {
		t.Fatalf("no jitter: %v", d)
	}
}

func TestRunAndStop(t *testing.T) {
	f := newFixture(t)
	s := agenttest.StartFake(t, agenttest.FakeOptions{})
	f.addNode("n1", s.URL, s.Secret, "wg0")
	p := f.poller(Config{Interval: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- p.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for s.Calls(agenttest.OpAny) < 6 { // three cycles of health + dump
		if time.Now().After(deadline) {
			t.Fatalf("only %d requests in 10s", s.Calls(agenttest.OpAny))
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("Run returned %v after its context ended", err)
	}
	after := s.Calls(agenttest.OpAny)
	time.Sleep(100 * time.Millisecond)
	if s.Calls(agenttest.OpAny) != after {
		t.Fatal("polling went on after Run returned")
	}
}
