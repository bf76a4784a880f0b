package auth

import (
	"context"
	"log/slog"
	"time"

	"github.com/wgfleet/wgfleet/controller/store"
)

// failureLimiter counts failed attempts per key over a sliding window
// (see loginLimiter for the rules). loginLimiter counts in memory, for
// the one controller on SQLite; dbLimiter in the database, so that
// replicas on one PostgreSQL database share the counts.
type failureLimiter interface {
	// begin records an attempt for key at now, or returns false and how
	// long to wait when key has its maximum inside the window.
	begin(key limiterKey, now time.Time) (retryAfter time.Duration, ok bool)
	// cancel takes back the attempt begin recorded for key at at.
	cancel(key limiterKey, at time.Time)
	// succeeded forgets key's failures.
	succeeded(key limiterKey)
}

var (
	_ failureLimiter = (*loginLimiter)(nil)
	_ failureLimiter = (*dbLimiter)(nil)
)

// dbLimitTimeout bounds each database call of a dbLimiter.
const dbLimitTimeout = 5 * time.Second

// dbLimiter is a failureLimiter whose counts are rows of the store
// (store.BeginFailure), under a scope of its own. The store forgets
// attempts older than the window as new ones come, so the table holds
// at most max rows per key that attempted inside the window. When the
// database fails, the attempt is let through and the failure logged: the
// login itself then fails on the same database.
type dbLimiter struct {
	st     *store.Store
	scope  string
	max    int
	window time.Duration
	log    *slog.Logger
}

func newDBLimiter(st *store.Store, scope string, max int, window time.Duration, log *slog.Logger) *dbLimiter {
	return &dbLimiter{st: st, scope: scope, max: max, window: window, log: log}
}

func (l *dbLimiter) begin(key limiterKey, now time.Time) (time.Duration, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), dbLimitTimeout)
	defer cancel()
	retry, ok, err := l.st.BeginFailure(ctx, l.scope, key[:], now, l.max, l.window)
	if err != nil {
		l.log.Error("rate limit: counting an attempt; letting it through", "scope", l.scope, "err", err)
		return 0, true
	}
	return retry, ok
}

func (l *dbLimiter) cancel(key limiterKey, at time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), dbLimitTimeout)
	defer cancel()
	if err := l.st.CancelFailure(ctx, l.scope, key[:], at); err != nil {
		l.log.Error("rate limit: forgiving an attempt", "scope", l.scope, "err", err)
	}
}

func (l *dbLimiter) succeeded(key limiterKey) {
	ctx, cancel := context.WithTimeout(context.Background(), dbLimitTimeout)
	defer cancel()
	if err := l.st.ClearFailures(ctx, l.scope, key[:]); err != nil {
		l.log.Error("rate limit: clearing failures", "scope", l.scope, "err", err)
	}
}
