package auth

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/controller/secretbox"
	"github.com/wgfleet/wgfleet/controller/store"
	"github.com/wgfleet/wgfleet/internal/testenv"
	"github.com/wgfleet/wgfleet/internal/testenv/pgtest"
)

// TestRateLimitsSharedByReplicas: two Authenticators, each over its own
// store (pool) on one PostgreSQL database, as two controller replicas.
// Failed logins on one count on the other, per username and address and
// per address; a success on one clears the count on both; failed
// enrollments likewise.
func TestRateLimitsSharedByReplicas(t *testing.T) {
	cluster := pgtest.Require(t)
	dsn := cluster.NewDatabase(t)
	ctx := context.Background()
	box, err := secretbox.New(bytes.Repeat([]byte{3}, 32))
	if err != nil {
		t.Fatal(err)
	}
	clock := testenv.NewClock(time.Now())
	var replicas [2]*Authenticator
	for i := range replicas {
		st, err := store.Open(ctx, dsn, box)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		if i == 0 {
			hash, err := HashPassword(testPassword)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.CreateUser(ctx, "alice", hash); err != nil {
				t.Fatal(err)
			}
		}
		if replicas[i], err = New(Config{Store: st, Now: clock.Now, MaxLoginFailures: 3, MaxAddressFailures: 5}); err != nil {
			t.Fatal(err)
		}
	}
	a, b := replicas[0], replicas[1]
	const addr = "192.0.2.7:40000"
	for i := range 3 {
		if _, err := a.Login(ctx, "alice", "wrong", addr); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("failure %d on a: %v", i+1, err)
		}
		clock.Advance(time.Second)
	}
	var rl *RateLimitError
	if _, err := b.Login(ctx, "alice", testPassword, addr); !errors.As(err, &rl) {
		t.Fatalf("b after 3 failures on a: %v, want a *RateLimitError", err)
	}
	if rl.RetryAfter <= 0 || rl.RetryAfter > DefaultLoginFailureWindow {
		t.Fatalf("retry after %v", rl.RetryAfter)
	}
	t.Log("per address: two more failures on b, other usernames, fill the address limit of 5")
	for i := range 2 {
		if _, err := b.Login(ctx, "mallory", "wrong", addr); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("address failure %d on b: %v", i+1, err)
		}
	}
	if _, err := a.Login(ctx, "trent", "wrong", addr); !errors.As(err, &rl) || rl.Reason == "" {
		t.Fatalf("a after 5 failures from the address: %v, want the address limit", err)
	}
	t.Log("the window passes; a success on b clears alice's count for a too")
	clock.Advance(DefaultLoginFailureWindow)
	for range 2 {
		if _, err := a.Login(ctx, "alice", "wrong", addr); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("after the window: %v", err)
		}
	}
	if _, err := b.Login(ctx, "alice", testPassword, addr); err != nil {
		t.Fatalf("good login on b: %v", err)
	}
	for i := range 3 {
		if _, err := a.Login(ctx, "alice", "wrong", addr); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("failure %d on a after the success: %v (the success did not clear the count)", i+1, err)
		}
	}

	t.Log("enrollments: 5 failures on a refuse the address on b")
	clock.Advance(DefaultLoginFailureWindow)
	bad := errors.New("no such join token")
	for i := range 5 {
		if err := a.GuardEnroll(addr, func() error { return bad }); !errors.Is(err, bad) {
			t.Fatalf("enrollment %d on a: %v", i+1, err)
		}
	}
	ran := false
	if err := b.GuardEnroll(addr, func() error { ran = true; return nil }); !errors.As(err, &rl) || ran {
		t.Fatalf("enrollment on b after 5 failures on a: %v (ran %v), want refused unrun", err, ran)
	}
}

func TestShareLookupsSharedByReplicas(t *testing.T) {
	cluster := pgtest.Require(t)
	dsn := cluster.NewDatabase(t)
	ctx := context.Background()
	box, err := secretbox.New(bytes.Repeat([]byte{4}, 32))
	if err != nil {
		t.Fatal(err)
	}
	clock := testenv.NewClock(time.Now())
	var replicas [2]*LookupLimiter
	for i := range replicas {
		st, err := store.Open(ctx, dsn, box)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		replicas[i] = NewSharedLookupLimiter(st, "share", 4, time.Minute, "share link lookups", clock.Now, nil)
	}
	const addr, other = "192.0.2.9:1000", "198.51.100.3:2000"
	for i := range 4 { // two on each replica
		if err := replicas[i%2].Allow(addr); err != nil {
			t.Fatalf("lookup %d: %v", i+1, err)
		}
	}
	var rl *RateLimitError
	for i, l := range replicas {
		if err := l.Allow(addr); !errors.As(err, &rl) {
			t.Fatalf("replica %d after 4 lookups from the address on both: %v, want a *RateLimitError", i, err)
		}
	}
	if err := replicas[1].Allow(other); err != nil {
		t.Fatalf("another address: %v", err)
	}
	clock.Advance(time.Minute + time.Second)
	if err := replicas[0].Allow(addr); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

func TestShareLookupsInMemoryOnSQLite(t *testing.T) {
	ctx := context.Background()
	box, err := secretbox.New(bytes.Repeat([]byte{5}, 32))
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "c.db"), box)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	l := NewSharedLookupLimiter(st, "share", 2, time.Minute, "share link lookups", nil, nil)
	if _, ok := l.l.(*loginLimiter); !ok {
		t.Fatalf("limiter on SQLite is %T, want the in-memory one", l.l)
	}
	for range 2 {
		if err := l.Allow("192.0.2.1:1"); err != nil {
			t.Fatal(err)
		}
	}
	var rl *RateLimitError
	if err := l.Allow("192.0.2.1:1"); !errors.As(err, &rl) {
		t.Fatalf("third lookup: %v, want a *RateLimitError", err)
	}
}
