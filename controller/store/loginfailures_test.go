package store

import (
	"bytes"
	"context"
	"database/sql"
	"testing"
	"time"
)

// loginFailuresMigration is the migration that made login_failures.
const loginFailuresMigration = 20

// loginFailuresFixture: an attempt counted at 0020 still counts after
// every later migration.
func loginFailuresFixture() migrationFixture {
	key := bytes.Repeat([]byte{20}, 32)
	return migrationFixture{
		insert: func(t *testing.T, db *sql.DB) {
			if _, err := db.Exec(`INSERT INTO login_failures (scope, key_hash, at) VALUES ('user', $1, 1)`, key); err != nil {
				t.Fatal(err)
			}
		},
		check: func(t *testing.T, s *Store) {
			if n, err := s.CountFailures(context.Background(), "user", key); err != nil || n != 1 {
				t.Fatalf("the v20 attempt after migration: %d counted, %v; want 1", n, err)
			}
		},
	}
}

// TestLoginFailures: attempts are counted per scope and key up to max
// inside the window; over it nothing is recorded and the wait is until
// the oldest leaves the window; a cancelled attempt and a cleared key no
// longer count; attempts older than the window are forgotten.
func TestLoginFailures(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTest(t)
	key, other := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	const window = time.Minute
	t0 := time.Unix(1_800_000_000, 0)
	count := func(scope string, k []byte) int {
		t.Helper()
		n, err := s.CountFailures(ctx, scope, k)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	begin := func(scope string, k []byte, at time.Time) (time.Duration, bool) {
		t.Helper()
		retry, ok, err := s.BeginFailure(ctx, scope, k, at, 3, window)
		if err != nil {
			t.Fatal(err)
		}
		return retry, ok
	}
	for i := range 3 {
		if _, ok := begin("user", key, t0.Add(time.Duration(i)*time.Second)); !ok {
			t.Fatalf("attempt %d refused", i+1)
		}
	}
	retry, ok := begin("user", key, t0.Add(10*time.Second))
	if ok || retry != 50*time.Second {
		t.Fatalf("fourth attempt: ok %v, retry %v; want refused, 50s", ok, retry)
	}
	if n := count("user", key); n != 3 {
		t.Fatalf("%d attempts counted, want 3 (a refused one is not)", n)
	}
	if _, ok := begin("address", key, t0.Add(10*time.Second)); !ok {
		t.Fatal("another scope is limited by this one")
	}
	if _, ok := begin("user", other, t0.Add(10*time.Second)); !ok {
		t.Fatal("another key is limited by this one")
	}
	if err := s.CancelFailure(ctx, "user", key, t0.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	if n := count("user", key); n != 2 {
		t.Fatalf("%d attempts after a cancel, want 2", n)
	}
	if _, ok := begin("user", key, t0.Add(11*time.Second)); !ok {
		t.Fatal("the cancelled attempt still counts")
	}
	if err := s.ClearFailures(ctx, "user", key); err != nil {
		t.Fatal(err)
	}
	if n := count("user", key); n != 0 {
		t.Fatalf("%d attempts after clearing, want 0", n)
	}
	// A minute later every attempt of every key has left the window.
	if _, ok := begin("user", key, t0.Add(10*time.Second+window)); !ok {
		t.Fatal("refused after the window")
	}
	for _, k := range []struct {
		scope string
		key   []byte
	}{{"address", key}, {"user", other}} {
		if n := count(k.scope, k.key); n != 0 {
			t.Fatalf("%s: %d old attempts kept, want 0", k.scope, n)
		}
	}
}
