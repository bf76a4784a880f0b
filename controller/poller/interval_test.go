package poller

import (
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/internal/testenv"
)

// TestNextCycleCountsFromStart: the interval runs from the start of a
// cycle, so a cycle's own duration is not added to the period.
func TestNextCycleCountsFromStart(t *testing.T) {
	tests := []struct {
		name   string
		jitter float64
		took   time.Duration
		lo, hi time.Duration
	}{
		{"instant cycle", -1, 0, 10 * time.Second, 10 * time.Second},
		{"cycle took 3s", -1, 3 * time.Second, 7 * time.Second, 7 * time.Second},
		{"cycle took the interval", -1, 10 * time.Second, 0, 0},
		{"cycle overran", -1, 16 * time.Second, 0, 0},
		{"jitter, cycle took 3s", 0.1, 3 * time.Second, 6 * time.Second, 8 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := testenv.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
			p := New(Config{Interval: 10 * time.Second, Jitter: tt.jitter, Now: clock.Now})
			start := clock.Now()
			clock.Advance(tt.took)
			for range 50 {
				if d := p.untilNext(start); d < tt.lo || d > tt.hi {
					t.Fatalf("untilNext after a cycle of %v = %v, want within [%v, %v]", tt.took, d, tt.lo, tt.hi)
				}
			}
		})
	}
}
