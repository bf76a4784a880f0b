package auth

import (
	"crypto/sha256"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
)

// loginLimiter counts failed logins per key over a sliding window. The
// Authenticator keeps two: one keyed on username and client address
// (keyFor), one on the client address alone (addressKey). An attempt is
// counted as a failure when it starts and forgiven when it succeeds, so
// parallel guesses cannot slip past the limit. It is safe for concurrent
// use and holds at most maxKeys keys.
type loginLimiter struct {
	max     int
	window  time.Duration
	maxKeys int

	mu       sync.Mutex
	failures map[limiterKey][]time.Time // oldest first, at most max entries
}

// limiterKey is a hash of username and address, so memory per key is
// fixed whatever the client sends.
type limiterKey [sha256.Size]byte

func newLoginLimiter(max int, window time.Duration, maxKeys int) *loginLimiter {
	return &loginLimiter{max: max, window: window, maxKeys: maxKeys, failures: map[limiterKey][]time.Time{}}
}

// keyFor is the limiter key of a login: the username without regard to
// case, and the client's IP address without the port.
func keyFor(username, remoteAddr string) limiterKey {
	return sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(username)) + "\x00" + remoteHost(remoteAddr)))
}

// addressKey is the limiter key of a client address whatever the
// username: the IPv4 address, or the /64 of an IPv6 address (one host
// commonly holds a whole /64). An address that does not parse is used as
// is.
func addressKey(remoteAddr string) limiterKey {
	host := remoteHost(remoteAddr)
	if a, err := netip.ParseAddr(host); err == nil {
		a = a.Unmap()
		if a.Is6() {
			host = netip.PrefixFrom(a.WithZone(""), 64).Masked().String()
		} else {
			host = a.String()
		}
	}
	return sha256.Sum256([]byte("address\x00" + host))
}

// remoteHost is the address part of remoteAddr (host:port).
func remoteHost(remoteAddr string) string {
	if h, _, err := net.SplitHostPort(remoteAddr); err == nil {
		return h
	}
	return remoteAddr
}

// begin records an attempt for key. When the key already has max failures
// inside the window it records nothing and returns false and how long
// until the oldest of them leaves the window.
func (l *loginLimiter) begin(key limiterKey, now time.Time) (retryAfter time.Duration, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.prune(key, now)
	if len(f) >= l.max {
		return f[0].Add(l.window).Sub(now), false
	}
	if _, known := l.failures[key]; !known && len(l.failures) >= l.maxKeys {
		l.makeRoom(now)
	}
	l.failures[key] = append(f, now)
	return 0, true
}

// cancel takes back the one attempt begin recorded for key at at: an
// attempt that never reached the password check, or a success that must
// not erase the other failures counted under key.
func (l *loginLimiter) cancel(key limiterKey, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.failures[key]
	for i := len(f) - 1; i >= 0; i-- {
		if f[i].Equal(at) {
			f = slices.Delete(f, i, i+1)
			break
		}
	}
	if len(f) == 0 {
		delete(l.failures, key)
		return
	}
	l.failures[key] = f
}

// succeeded forgets key's failures.
func (l *loginLimiter) succeeded(key limiterKey) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.failures, key)
}

// prune drops key's failures older than the window and returns the rest.
func (l *loginLimiter) prune(key limiterKey, now time.Time) []time.Time {
	f := l.failures[key]
	i := 0
	for i < len(f) && !f[i].Add(l.window).After(now) {
		i++
	}
	if i == len(f) {
		delete(l.failures, key)
		return nil
	}
	f = f[i:]
	l.failures[key] = f
	return f
}

// makeRoom drops every expired key and, if the map is still full, the key
// whose latest failure is the oldest.
func (l *loginLimiter) makeRoom(now time.Time) {
	var oldestKey limiterKey
	var oldest time.Time
	for k := range l.failures {
		f := l.prune(k, now)
		if len(f) == 0 {
			continue
		}
		if last := f[len(f)-1]; oldest.IsZero() || last.Before(oldest) {
			oldest, oldestKey = last, k
		}
	}
	if len(l.failures) >= l.maxKeys {
		delete(l.failures, oldestKey)
	}
}

// size is the number of keys held, for tests.
func (l *loginLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.failures)
}
