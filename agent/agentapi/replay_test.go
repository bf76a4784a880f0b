package agentapi

import (
	"strconv"
	"testing"
	"time"
)

func TestReplayCache(t *testing.T) {
	t0 := time.Unix(1000, 0)
	c := newReplayCache(3)
	steps := []struct {
		key  string
		exp  int // seconds after t0
		now  int
		want replayResult
	}{
		{"a", 10, 0, replayAdded},
		{"a", 10, 0, replayDuplicate},
		{"b", 5, 0, replayAdded},
		{"c", 20, 1, replayAdded},
		{"d", 20, 1, replayFull},      // full of live entries: refused, nothing evicted
		{"a", 10, 4, replayDuplicate}, // a is still remembered
		{"d", 20, 5, replayAdded},     // b expired at 5 and made room
		{"b", 30, 5, replayFull},      // b was forgotten, but there is no room
		{"a", 30, 10, replayAdded},    // a expired at 10 and is new again
		{"c", 30, 19, replayDuplicate},
	}
	for i, s := range steps {
		got := c.add(s.key, t0.Add(time.Duration(s.exp)*time.Second), t0.Add(time.Duration(s.now)*time.Second))
		if got != s.want {
			t.Fatalf("step %d: add(%q, exp %d, now %d) = %d, want %d", i, s.key, s.exp, s.now, got, s.want)
		}
	}
	if n := c.len(); n != 3 {
		t.Fatalf("len = %d, want 3", n)
	}
}

func TestReplayCacheBound(t *testing.T) {
	const max = 1000
	t0 := time.Unix(1000, 0)
	c := newReplayCache(max)
	for i := range 3 * max {
		// Each key lives 100 s; one key per second is added, so at most
		// 100 are ever live and the cache never fills.
		now := t0.Add(time.Duration(i) * time.Second)
		if got := c.add(strconv.Itoa(i), now.Add(100*time.Second), now); got != replayAdded {
			t.Fatalf("add %d = %d", i, got)
		}
		if n := c.len(); n > 100 {
			t.Fatalf("after %d adds len = %d, want <= 100", i, n)
		}
	}
	// Many keys at one instant: the bound holds.
	now := t0.Add(time.Hour)
	for i := range 2 * max {
		got := c.add("x"+strconv.Itoa(i), now.Add(time.Minute), now)
		if want := replayAdded; i >= max {
			want = replayFull
			if got != want {
				t.Fatalf("add x%d = %d, want full", i, got)
			}
		} else if got != want {
			t.Fatalf("add x%d = %d, want added", i, got)
		}
	}
	if n := c.len(); n != max {
		t.Fatalf("len = %d, want %d", n, max)
	}
}
