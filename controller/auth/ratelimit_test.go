package auth

import (
	"fmt"
	"testing"
	"time"
)

func TestLoginLimiter(t *testing.T) {
	l := newLoginLimiter(3, time.Minute, 100)
	t0 := time.Unix(1_000_000, 0)
	k := keyFor("Alice", "192.0.2.1:4000")
	for i := range 3 {
		if _, ok := l.begin(k, t0.Add(time.Duration(i)*time.Second)); !ok {
			t.Fatalf("attempt %d refused", i+1)
		}
	}
	retry, ok := l.begin(k, t0.Add(10*time.Second))
	if ok || retry != 50*time.Second {
		t.Fatalf("4th attempt: ok=%v retry=%v, want refused with 50s", ok, retry)
	}
	// Same user and host, other port or letter case: the same key.
	if _, ok := l.begin(keyFor("alice ", "192.0.2.1:5000"), t0.Add(10*time.Second)); ok {
		t.Error("another port or letter case escaped the limit")
	}
	// Another host or another user is counted apart.
	if _, ok := l.begin(keyFor("alice", "192.0.2.2:4000"), t0.Add(10*time.Second)); !ok {
		t.Error("another address was limited")
	}
	if _, ok := l.begin(keyFor("bob", "192.0.2.1:4000"), t0.Add(10*time.Second)); !ok {
		t.Error("another user was limited")
	}
	// The oldest failure leaves the window: one attempt is allowed again.
	if _, ok := l.begin(k, t0.Add(60*time.Second)); !ok {
		t.Error("attempt after the window refused")
	}
	if _, ok := l.begin(k, t0.Add(60*time.Second)); ok {
		t.Error("second attempt after one failure left the window allowed")
	}
	// Success forgets.
	l.succeeded(k)
	if _, ok := l.begin(k, t0.Add(61*time.Second)); !ok {
		t.Error("attempt after success refused")
	}
}

func TestLoginLimiterIsBounded(t *testing.T) {
	l := newLoginLimiter(2, time.Minute, 10)
	t0 := time.Unix(1_000_000, 0)
	victim := keyFor("victim", "192.0.2.9:1")
	l.begin(victim, t0)
	l.begin(victim, t0)
	for i := range 100 {
		l.begin(keyFor(fmt.Sprint("user", i), "192.0.2.1:1"), t0.Add(time.Second))
		if n := l.size(); n > 10 {
			t.Fatalf("limiter holds %d keys, bound is 10", n)
		}
	}
	// Expired keys are dropped first when room is needed.
	l2 := newLoginLimiter(2, time.Minute, 2)
	a, b, c := keyFor("a", "h"), keyFor("b", "h"), keyFor("c", "h")
	l2.begin(a, t0)
	l2.begin(b, t0.Add(2*time.Minute))
	l2.begin(b, t0.Add(2*time.Minute))
	l2.begin(c, t0.Add(2*time.Minute))
	if _, ok := l2.begin(b, t0.Add(2*time.Minute)); ok {
		t.Error("live key b was evicted although expired key a could go")
	}
}
