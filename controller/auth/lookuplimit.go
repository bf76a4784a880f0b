package auth

import (
	"log/slog"
	"time"

	"github.com/wgfleet/wgfleet/controller/store"
)

// LookupLimiter bounds lookups anyone may make without credentials, such
// as opening share links, per client address (an IPv4 address or an IPv6
// /64, as for logins): at most Max in any Window. It counts every lookup,
// found or not, so guessing is as slow as using. It is safe for
// concurrent use. In memory it remembers at most 10,000 addresses; made
// by NewSharedLookupLimiter on a shared store (PostgreSQL), it counts in
// the database, so every replica sees every lookup.
type LookupLimiter struct {
	l   failureLimiter
	now func() time.Time
	why string
}

// NewLookupLimiter allows max lookups per window and client address; what
// names the lookups in the refusal ("too many share link lookups from
// this address"). now nil means time.Now.
func NewLookupLimiter(max int, window time.Duration, what string, now func() time.Time) *LookupLimiter {
	if now == nil {
		now = time.Now
	}
	return &LookupLimiter{l: newLoginLimiter(max, window, 10000), now: now, why: "too many " + what + " from this address"}
}

// NewSharedLookupLimiter is NewLookupLimiter counting in st when st is
// shared by several replicas (store.Shared), under scope (a name of its
// own, like "share"); otherwise it counts in memory. log (nil discards)
// takes the database's failures, which let the lookup through.
func NewSharedLookupLimiter(st *store.Store, scope string, max int, window time.Duration, what string, now func() time.Time, log *slog.Logger) *LookupLimiter {
	l := NewLookupLimiter(max, window, what, now)
	if st != nil && st.Shared() {
		if log == nil {
			log = slog.New(slog.DiscardHandler)
		}
		l.l = newDBLimiter(st, scope, max, window, log)
	}
	return l
}

// Allow counts one lookup from remoteAddr (host:port) and returns nil, or
// a *RateLimitError saying when to come back without counting it.
func (l *LookupLimiter) Allow(remoteAddr string) error {
	if retry, ok := l.l.begin(addressKey(remoteAddr), l.now()); !ok {
		return &RateLimitError{RetryAfter: retry, Reason: l.why}
	}
	return nil
}
