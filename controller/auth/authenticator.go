package auth

import (
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/wgfleet/wgfleet/controller/store"
)

// Defaults of Config.
const (
	DefaultSessionTTL         = 12 * time.Hour
	DefaultMaxLoginFailures   = 5
	DefaultLoginFailureWindow = 15 * time.Minute
	// DefaultMaxAddressFailures is how many failed logins one client
	// address (an IPv4 address, an IPv6 /64) may have inside the window,
	// whatever usernames it tries.
	DefaultMaxAddressFailures = 20
	// defaultMaxLimiterKeys bounds the login limiter's memory.
	defaultMaxLimiterKeys = 10000
	// tokenTouchInterval is how often at most a token's last use is
	// written.
	tokenTouchInterval = time.Minute
	// maxTouchEntries bounds the memory of when tokens were last touched.
	maxTouchEntries = 10000
)

// Config configures an Authenticator.
type Config struct {
	Store  *store.Store // required
	Logger *slog.Logger // nil: discard
	// Now is the clock; nil means time.Now. Session expiry is checked
	// against it (and, in the store, against the wall clock).
	Now func() time.Time
	// SessionTTL is how long a session lasts after login; 0 means
	// DefaultSessionTTL.
	SessionTTL time.Duration
	// MaxLoginFailures failed logins for one username from one address
	// inside LoginFailureWindow block further attempts until the oldest
	// leaves the window. 0 means the defaults.
	MaxLoginFailures   int
	LoginFailureWindow time.Duration
	// MaxAddressFailures failed logins from one client address (IPv4
	// address or IPv6 /64), whatever the usernames, inside
	// LoginFailureWindow block further attempts from it the same way. 0
	// means DefaultMaxAddressFailures.
	MaxAddressFailures int
	// MaxHashes bounds how many password checks run at once; 0 means
	// DefaultMaxHashes(). A login that finds them all busy waits up to
	// HashWait (0: DefaultHashWait) and is then refused with a
	// *RateLimitError.
	MaxHashes int
	HashWait  time.Duration
}

// Authenticator signs users in and out, checks the credentials of
// requests and manages API tokens. It is safe for concurrent use. Its
// login and enrollment rate limiters live in memory and start empty with
// every process on SQLite; on PostgreSQL they count in the database, so
// that every controller replica on it sees the same counts.
type Authenticator struct {
	store *store.Store
	log   *slog.Logger
	now   func() time.Time
	ttl   time.Duration

	limiter     failureLimiter // per username and address
	addrLimiter failureLimiter // per address, whatever the username
	// enrollLimiter counts failed enrollments per address (GuardEnroll).
	enrollLimiter failureLimiter
	hashes        *hashSlots
	// checkPassword is CheckPassword; tests wrap it to watch the checks.
	checkPassword func(password, hash string) (bool, error)

	// dummyHash is checked against when a login names an unknown user, so
	// that answer takes as long as a wrong password.
	dummyOnce sync.Once
	dummyHash string

	touchMu sync.Mutex
	touched map[int64]time.Time // API token id -> when its last use was written
}

// New makes an Authenticator.
func New(cfg Config) (*Authenticator, error) {
	if cfg.Store == nil {
		return nil, errors.New("auth: no store")
	}
	if cfg.SessionTTL < 0 || cfg.MaxLoginFailures < 0 || cfg.LoginFailureWindow < 0 ||
		cfg.MaxAddressFailures < 0 || cfg.MaxHashes < 0 || cfg.HashWait < 0 {
		return nil, errors.New("auth: session TTL, login limits, window and hash bounds must not be negative")
	}
	a := &Authenticator{
		store:   cfg.Store,
		log:     cfg.Logger,
		now:     cfg.Now,
		ttl:     cfg.SessionTTL,
		touched: map[int64]time.Time{},

		checkPassword: CheckPassword,
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.ttl == 0 {
		a.ttl = DefaultSessionTTL
	}
	max, window := cfg.MaxLoginFailures, cfg.LoginFailureWindow
	if max == 0 {
		max = DefaultMaxLoginFailures
	}
	if window == 0 {
		window = DefaultLoginFailureWindow
	}
	addrMax := cfg.MaxAddressFailures
	if addrMax == 0 {
		addrMax = DefaultMaxAddressFailures
	}
	if cfg.Store.Shared() {
		a.limiter = newDBLimiter(cfg.Store, "user", max, window, a.log)
		a.addrLimiter = newDBLimiter(cfg.Store, "address", addrMax, window, a.log)
		a.enrollLimiter = newDBLimiter(cfg.Store, "enroll", addrMax, window, a.log)
	} else {
		a.limiter = newLoginLimiter(max, window, defaultMaxLimiterKeys)
		a.addrLimiter = newLoginLimiter(addrMax, window, defaultMaxLimiterKeys)
		a.enrollLimiter = newLoginLimiter(addrMax, window, defaultMaxLimiterKeys)
	}
	hashes, wait := cfg.MaxHashes, cfg.HashWait
	if hashes == 0 {
		hashes = DefaultMaxHashes()
	}
	if wait == 0 {
		wait = DefaultHashWait
	}
	a.hashes = newHashSlots(hashes, wait)
	return a, nil
}

// SessionTTL is how long a new session lasts.
func (a *Authenticator) SessionTTL() time.Duration { return a.ttl }
