package poller

import (
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/agentclient"
)

// TestNextSpread: a cycle's polls are paced to end by Spread×Interval
// after its start: the next spread is that budget less how long the last
// cycle's polls ran past their own spread, never below 0; nothing is
// paced without Spread, nor in the first cycle.
func TestNextSpread(t *testing.T) {
	const s = time.Second
	tests := []struct {
		name   string
		spread float64
		last   paced
		want   time.Duration
	}{
		{"pacing off", 0, paced{spread: 0, took: 2 * s}, 0},
		{"pacing off, negative", -1, paced{spread: 0, took: 2 * s}, 0},
		{"first cycle", 0.6, paced{}, 0},
		{"unpaced cycle that fits", 0.6, paced{spread: 0, took: 2 * s}, 4 * s},
		{"paced cycle with a short tail", 0.6, paced{spread: 5 * s, took: 5*s + 200*time.Millisecond}, 5*s + 800*time.Millisecond},
		{"paced cycle whose workers fell behind", 0.6, paced{spread: 4 * s, took: 9 * s}, s},
		{"unpaced cycle longer than the budget", 0.6, paced{spread: 0, took: 9 * s}, 0},
		{"paced cycle far over the budget", 0.6, paced{spread: 3 * s, took: 15 * s}, 0},
		{"cut short before its spread", 0.6, paced{spread: 5 * s, took: 2 * s}, 6 * s},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := New(Config{Interval: 10 * s, Spread: tt.spread})
			if got := p.nextSpread(tt.last); got != tt.want {
				t.Errorf("nextSpread(%+v) with Spread %v = %v, want %v", tt.last, tt.spread, got, tt.want)
			}
		})
	}
}

// TestStartAt: the i-th of n polls starts at i/n of the spread, counted
// from the first of its group; all at once without a spread.
func TestStartAt(t *testing.T) {
	begin := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	const spread = 800 * time.Millisecond
	tests := []struct {
		name      string
		spread    time.Duration
		n, g      int
		wantAfter []time.Duration // for i = 0..n-1
	}{
		{"one at a time", spread, 4, 1, []time.Duration{0, 200 * time.Millisecond, 400 * time.Millisecond, 600 * time.Millisecond}},
		{"two at a time", spread, 4, 2, []time.Duration{0, 0, 400 * time.Millisecond, 400 * time.Millisecond}},
		{"groups larger than n", spread, 4, 8, []time.Duration{0, 0, 0, 0}},
		{"a group of 0 is one", spread, 2, 0, []time.Duration{0, 400 * time.Millisecond}},
		{"no spread", 0, 3, 1, []time.Duration{0, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i, want := range tt.wantAfter {
				if got := startAt(begin, tt.spread, i, tt.n, tt.g).Sub(begin); got != want {
					t.Errorf("startAt(i=%d, n=%d, g=%d) = begin+%v, want begin+%v", i, tt.n, tt.g, got, want)
				}
			}
		})
	}
}

// arrivals is an http.RoundTripper that notes when the first request to
// each host was sent.
type arrivals struct {
	mu    sync.Mutex
	first map[string]time.Time
}

func (a *arrivals) RoundTrip(r *http.Request) (*http.Response, error) {
	a.mu.Lock()
	if _, ok := a.first[r.URL.Host]; !ok {
		a.first[r.URL.Host] = time.Now()
	}
	a.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func (a *arrivals) at(host string) (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	t, ok := a.first[host]
	return t, ok
}

// TestPacedPollsStartInTurn: polled with a spread, the i-th of n nodes'
// agents is not asked before i/n of the spread has passed, counted from
// the first of its group (a quarter of the workers start together);
// every node is polled and counted online.
func TestPacedPollsStartInTurn(t *testing.T) {
	const (
		nodes  = 4
		spread = 600 * time.Millisecond
	)
	for _, tt := range []struct {
		name         string
		workers, per int // per: polls started together
	}{{"one at a time", 4, 1}, {"two at a time", 8, 2}} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			seen := &arrivals{first: make(map[string]time.Time)}
			f.pool = agentclient.NewPool(agentclient.PoolOptions{Timeout: time.Minute, HTTPClient: &http.Client{Transport: seen}})
			hosts := make([]string, nodes)
			for i := range nodes {
				fake := agenttest.StartFake(t, agenttest.FakeOptions{})
				f.addNode(fmt.Sprintf("paced-%d", i), fake.URL, fake.Secret, "wg0") // in id order, as cycles go
				hosts[i] = fake.URL[len("http://"):]
			}
			p := f.poller(Config{Workers: tt.workers})
			if g := p.paceGroup(); g != tt.per {
				t.Fatalf("%d workers start %d polls together, want %d", tt.workers, g, tt.per)
			}

			before := time.Now()
			sum, pending := p.pollAll(f.ctx, spread)
			p.awaitReconciles(f.ctx, &sum, pending)
			if sum.Polled != nodes || sum.Online != nodes {
				t.Fatalf("summary %+v, want %d nodes polled and online", sum, nodes)
			}
			for i := 0; i < nodes; i += tt.per {
				for j := i; j < i+tt.per; j++ {
					at, ok := seen.at(hosts[j])
					if !ok {
						t.Fatalf("node %d's agent was never asked", j)
					}
					if earliest := before.Add(spread * time.Duration(i) / nodes); at.Before(earliest) {
						t.Errorf("node %d's agent asked %v after the cycle began, before its turn at %v", j, at.Sub(before), earliest.Sub(before))
					}
				}
			}
		})
	}
}

// TestRunPacesAfterTheFirstCycle: Run's first cycle is not paced (nothing
// says yet how long its polls take); a later one, its polls having taken
// far less than Spread×Interval, is, with a spread within that budget.
// Without Spread no cycle is.
func TestRunPacesAfterTheFirstCycle(t *testing.T) {
	const interval = time.Second
	for _, tt := range []struct {
		name   string
		spread float64
	}{{"paced", 0.9}, {"not paced", 0}} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			fake := agenttest.StartFake(t, agenttest.FakeOptions{})
			for i := range 3 {
				f.addNode(fmt.Sprintf("run-paced-%d", i), fake.URL, fake.Secret, "wg0")
			}
			records := &cycleRecords[time.Duration]{key: "spread", get: slog.Value.Duration}
			p := New(Config{Store: f.store, Clients: f.pool, Logger: slog.New(records), Interval: interval, Jitter: -1, Spread: tt.spread})
			f.run(p.Run)
			budget := time.Duration(tt.spread * float64(interval))
			if tt.spread == 0 {
				waitUntil(t, "three cycle records", func() bool { return len(records.snapshot()) >= 3 })
				for i, s := range records.snapshot() {
					if s != 0 {
						t.Fatalf("cycle %d paced over %v without Spread", i+1, s)
					}
				}
				return
			}
			waitUntil(t, "a paced cycle", func() bool {
				s := records.snapshot()
				return len(s) >= 2 && s[len(s)-1] > 0
			})
			s := records.snapshot()
			if s[0] != 0 {
				t.Errorf("first cycle paced over %v", s[0])
			}
			for i, d := range s {
				if d < 0 || d > budget {
					t.Errorf("cycle %d paced over %v, outside 0..%v", i+1, d, budget)
				}
			}
		})
	}
}
