package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// hashWatch wraps an Authenticator's password check to count checks and
// record how many ran at once. Each check holds for hold before it runs,
// so that checks that may overlap do.
type hashWatch struct {
	hold             time.Duration
	calls            atomic.Int64
	running, maxSeen atomic.Int64
}

func (w *hashWatch) install(a *Authenticator) {
	a.checkPassword = func(password, hash string) (bool, error) {
		w.calls.Add(1)
		n := w.running.Add(1)
		defer w.running.Add(-1)
		for {
			m := w.maxSeen.Load()
			if n <= m || w.maxSeen.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(w.hold)
		return CheckPassword(password, hash)
	}
}

// A flood of logins with fresh usernames from many addresses never runs
// more password checks at once than MaxHashes; every attempt is still
// answered (401 here, since the wait is long enough).
func TestLoginHashesAreBounded(t *testing.T) {
	const bound, attempts = 2, 24
	h := newHarness(t, Config{MaxHashes: bound, HashWait: time.Minute})
	w := &hashWatch{hold: 20 * time.Millisecond}
	w.install(h.auth)
	var wg sync.WaitGroup
	errs := make(chan error, attempts)
	for i := range attempts {
		wg.Go(func() {
			_, err := h.auth.Login(context.Background(), fmt.Sprintf("fresh-%d", i), "guess", fmt.Sprintf("198.51.100.%d:1", i))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, ErrBadCredentials) {
			t.Errorf("login: err = %v, want ErrBadCredentials", err)
		}
	}
	if got := w.maxSeen.Load(); got != bound {
		t.Errorf("%d password checks ran at once, want at most (and, with %d attempts, exactly) %d", got, attempts, bound)
	}
	if got := w.calls.Load(); got != attempts {
		t.Errorf("%d password checks for %d attempts", got, attempts)
	}
}

// With every slot busy and the waiting room full or the wait over, a login
// is refused at once with a *RateLimitError whose RetryAfter is the wait,
// without a password check and without counting as a failure.
func TestLoginRefusedWhileHashesBusy(t *testing.T) {
	const wait = 50 * time.Millisecond
	h := newHarness(t, Config{MaxHashes: 1, HashWait: wait, MaxLoginFailures: 1, MaxAddressFailures: 1})
	w := &hashWatch{}
	w.install(h.auth)
	// Take the only slot, as a slow check would.
	release, err := h.auth.hashes.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = h.auth.Login(context.Background(), "alice", testPassword, "192.0.2.1:1")
	var rl *RateLimitError
	if !errors.As(err, &rl) || rl.RetryAfter != wait || !strings.Contains(err.Error(), "in progress") {
		t.Fatalf("login while busy: err = %v, want a *RateLimitError saying logins are in progress, retry after %v", err, wait)
	}
	if waited := time.Since(start); waited < wait {
		t.Errorf("refused after %v, before the %v wait", waited, wait)
	}
	// A waiting room full of logins refuses the next one without waiting.
	for range waitersPerSlot {
		h.auth.hashes.waiting <- struct{}{}
	}
	start = time.Now()
	if _, err := h.auth.Login(context.Background(), "alice", testPassword, "192.0.2.1:1"); !errors.As(err, &rl) {
		t.Fatalf("login with a full waiting room: err = %v, want *RateLimitError", err)
	}
	if waited := time.Since(start); waited >= wait {
		t.Errorf("a full waiting room still waited %v", waited)
	}
	for range waitersPerSlot {
		<-h.auth.hashes.waiting
	}
	release()
	if n := w.calls.Load(); n != 0 {
		t.Errorf("%d password checks while busy", n)
	}
	// Neither refusal counted as a failure: with limits of 1 the right
	// password still signs in.
	if _, err := h.auth.Login(context.Background(), "alice", testPassword, "192.0.2.1:1"); err != nil {
		t.Errorf("login once free: %v", err)
	}
}

// One address trying a fresh username each time is limited after
// MaxAddressFailures failures, without a password check for the refused
// attempts; other addresses are not; an IPv6 /64 counts as one address;
// the per-username limit still holds on its own.
func TestLoginLimitPerAddress(t *testing.T) {
	const perAddress = 4
	h := newHarness(t, Config{MaxAddressFailures: perAddress, MaxLoginFailures: 2})
	w := &hashWatch{}
	w.install(h.auth)
	ctx := context.Background()
	for i := range perAddress {
		if _, err := h.auth.Login(ctx, fmt.Sprintf("fresh-%d", i), "guess", "192.0.2.1:1"); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("failure %d: %v", i+1, err)
		}
		h.clock.Advance(time.Minute)
	}
	calls := w.calls.Load()
	_, err := h.auth.Login(ctx, "fresh-next", "guess", "192.0.2.1:2")
	var rl *RateLimitError
	if !errors.As(err, &rl) || !strings.Contains(err.Error(), "address") {
		t.Fatalf("fresh username from a limited address: err = %v, want a *RateLimitError about the address", err)
	}
	if want := DefaultLoginFailureWindow - perAddress*time.Minute; rl.RetryAfter != want {
		t.Errorf("retry after %v, want %v (the first failure leaves the window then)", rl.RetryAfter, want)
	}
	// Even the right password of a real user waits.
	if _, err := h.auth.Login(ctx, "alice", testPassword, "192.0.2.1:3"); !errors.As(err, &rl) {
		t.Errorf("alice from the limited address: err = %v, want *RateLimitError", err)
	}
	if n := w.calls.Load(); n != calls {
		t.Errorf("refused attempts ran %d password checks", n-calls)
	}
	if _, err := h.auth.Login(ctx, "alice", testPassword, "192.0.2.2:1"); err != nil {
		t.Errorf("login from another address: %v", err)
	}

	// IPv6: the whole /64 is one address; another /64 is not.
	for i := range perAddress {
		addr := fmt.Sprintf("[2001:db8:1:2::%x]:1", i+1)
		if _, err := h.auth.Login(ctx, fmt.Sprintf("v6-%d", i), "guess", addr); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("v6 failure %d: %v", i+1, err)
		}
	}
	if _, err := h.auth.Login(ctx, "v6-next", "guess", "[2001:db8:1:2:ffff::1]:1"); !errors.As(err, &rl) {
		t.Errorf("another address in the same /64: err = %v, want *RateLimitError", err)
	}
	if _, err := h.auth.Login(ctx, "alice", testPassword, "[2001:db8:1:3::1]:1"); err != nil {
		t.Errorf("login from another /64: %v", err)
	}

	// The per-username limit is kept: alice from a fresh address is
	// limited after 2 failures, before the address limit.
	for range 2 {
		if _, err := h.auth.Login(ctx, "alice", "wrong", "192.0.2.7:1"); !errors.Is(err, ErrBadCredentials) {
			t.Fatal(err)
		}
	}
	_, err = h.auth.Login(ctx, "alice", testPassword, "192.0.2.7:1")
	if !errors.As(err, &rl) || rl.Reason != "" {
		t.Errorf("alice after 2 failures: err = %v, want the per-username *RateLimitError", err)
	}
}

// A success forgets the username's failures but not the address's other
// failures: one valid account does not reset the address limit.
func TestLoginSuccessKeepsAddressFailures(t *testing.T) {
	h := newHarness(t, Config{MaxAddressFailures: 3})
	ctx := context.Background()
	for i := range 2 {
		if _, err := h.auth.Login(ctx, fmt.Sprintf("fresh-%d", i), "guess", "192.0.2.1:1"); !errors.Is(err, ErrBadCredentials) {
			t.Fatal(err)
		}
	}
	if _, err := h.auth.Login(ctx, "alice", testPassword, "192.0.2.1:1"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.auth.Login(ctx, "fresh-2", "guess", "192.0.2.1:1"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("third failure: %v", err)
	}
	var rl *RateLimitError
	if _, err := h.auth.Login(ctx, "fresh-3", "guess", "192.0.2.1:1"); !errors.As(err, &rl) {
		t.Errorf("fourth attempt after a success in between: err = %v, want *RateLimitError", err)
	}
}
