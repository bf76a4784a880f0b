package controller

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"time"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/controller/api"
	"github.com/wgfleet/wgfleet/controller/events"
	"github.com/wgfleet/wgfleet/controller/fleet"
	"github.com/wgfleet/wgfleet/controller/ipam"
	"github.com/wgfleet/wgfleet/controller/poller"
	"github.com/wgfleet/wgfleet/controller/store"
)

// Defaults of the controller's configuration.
const (
	DefaultListen       = "127.0.0.1:10086"
	DefaultDataDir      = "/var/lib/wg-controller"
	DefaultPollInterval = 60 * time.Second
	// DefaultLimitInterval is how often expiry and data limits are checked
	// besides the polls: a peer outlives its expiry by at most this.
	DefaultLimitInterval = time.Minute
	// DBFile and KeyFile are the names of the database and the master key
	// in the data directory.
	DBFile  = "wgfleet.db"
	KeyFile = "master.key"
)

// Config is the controller's validated configuration.
type Config struct {
	// Listen is the HTTP address of the API and UI.
	Listen string
	// DataDir holds the database (unless Database is set) and, unless
	// MasterKey is set, the master key.
	DataDir string
	// Database is the URL of a PostgreSQL database (postgres://...) that
	// holds the state instead of the SQLite file in DataDir; "" for SQLite.
	Database string
	// MasterKey, when set, is the 32-byte key that seals secrets at rest
	// (from WG_CONTROLLER_MASTER_KEY); nil means DataDir/master.key, made
	// on first start with mode 0600.
	MasterKey []byte
	// PollInterval is how often every enabled node is polled.
	PollInterval time.Duration
	// PollWorkers bounds how many agents a poll cycle reads at once
	// (poller.Config.Workers; up to poller.RecordFactor times as many
	// polls record what they read); 0 means poller.DefaultWorkers, at
	// most MaxPollWorkers. Fewer take less of the CPUs and the store's
	// writer from the API while a cycle runs, and make each cycle
	// longer (docs/OPERATIONS.md, "Poll workers").
	PollWorkers int
	// PollSpread paces the poll cycles (poller.Config.Spread): a cycle
	// starts its polls at a steady rate so that they end about
	// PollSpread×PollInterval after its start, when the cycle before
	// shows they fit; a fleet whose polls take longer is polled as fast as
	// the workers go. 0 means DefaultPollSpread; negative means none
	// (every poll of a cycle starts as soon as a worker is free); below 1.
	// A paced cycle takes the CPUs and the store's writer from the API a
	// little at a time instead of all at once (docs/OPERATIONS.md, "Poll
	// pacing").
	PollSpread float64
	// ReplicaName names this controller among the replicas on one
	// database (the metric wgfleet_controller_leader, GET /api/status);
	// "" means the host name and the port of Listen.
	ReplicaName string
	// AdminPassword is the password of the first user, made on first start;
	// "" generates one and prints it once to BootstrapOut. On a later start
	// a set AdminPassword that differs from the admin's replaces it (see
	// auth.ApplyAdminPassword); "" keeps the stored one.
	AdminPassword string
	// BootstrapOut receives the generated admin password; nil discards it
	// (then set AdminPassword).
	BootstrapOut io.Writer
	// SecureCookies marks session cookies Secure (set it behind TLS).
	SecureCookies bool
	// SessionTTL is how long a login lasts; 0 means the default (12h).
	SessionTTL time.Duration
	// Logger receives the logs; nil discards them.
	Logger *slog.Logger

	// Enrollment (nodes that join with a token).
	//
	// PublicURL is the controller's URL as agents reach it, shown in join
	// commands; "" means the scheme and host each request came in by.
	PublicURL string
	// JoinPin is the SHA-256 of the TLS certificate agents see at
	// PublicURL (the controller's own behind a proxy that terminates
	// TLS with a self-signed certificate); new join tokens carry it so
	// that agents trust it. Zero: tokens pin nothing and agents verify an
	// https controller against the system's CAs or --join-ca.
	JoinPin agentapi.Fingerprint
	// Demo, when not nil, marks the controller of `wg-controller demo`:
	// the UI shows what to try next, with these commands (GET /api/demo).
	Demo *api.Demo
	// PoolSupernet and PoolBits: a joining node whose token names no pool
	// gets the first /PoolBits of PoolSupernet that overlaps no node's
	// pool. Zero values mean fleet.DefaultPoolSupernet (10.128.0.0/9) and
	// fleet.DefaultPoolBits (24).
	PoolSupernet netip.Prefix
	PoolBits     int
	// LimitInterval is how often every peer's expiry and data limit are
	// checked besides each poll; 0 means DefaultLimitInterval.
	LimitInterval time.Duration
	// Now is the clock peers' expiry, sessions, API token expiry and TOTP
	// codes are judged by, and the poller's (the minute a poll's traffic
	// is recorded in, its events' times, its backoff); nil means
	// time.Now. Tests set a testenv.Clock's Now (one that stands still
	// also holds back a node that failed until it is advanced).
	Now func() time.Time
	// Events hears what the controller notices by itself (peer.expired,
	// peer.over_limit); nil means nobody does.
	Events events.Publisher
	// MemoryLimit, in bytes, is the soft memory limit New gives the Go
	// runtime of the whole process (runtime/debug.SetMemoryLimit): the
	// collector runs more often as the process nears it, instead of
	// letting the heap grow to twice what is live. 0 leaves the limit as
	// it is (GOMEMLIMIT, or none); otherwise at least MinMemoryLimit.
	// It is a soft limit: a live heap above it is not refused, only
	// collected harder (see docs/OPERATIONS.md, "Memory").
	MemoryLimit int64
}

// MaxPollWorkers is the largest Config.PollWorkers: each worker may hold
// a node's dump while it reads, and RecordFactor times as many polls
// record at once.
const MaxPollWorkers = 1024

// DefaultPollSpread is Config.PollSpread's default: a cycle's polls end
// about 60% of the interval after its start, leaving room for a cycle
// that runs long before the next starts.
const DefaultPollSpread = 0.6

// pollSpread is poller.Config.Spread for Config.PollSpread s: 0 is the
// default, negative none (the poller's 0 or below).
func pollSpread(s float64) float64 {
	if s == 0 {
		return DefaultPollSpread
	}
	return s
}

// MinMemoryLimit is the smallest Config.MemoryLimit: below it, the
// controller's own live heap with a few nodes keeps the collector running
// all the time.
const MinMemoryLimit = 64 << 20

// Validate checks the configuration and says what is wrong.
func (c *Config) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("listen address %q: %w", c.Listen, err))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("data directory is required"))
	}
	if c.Database != "" && !store.IsPostgresURL(c.Database) {
		errs = append(errs, errors.New("database must be a postgres:// or postgresql:// URL (leave it empty for SQLite in the data directory)"))
	}
	if c.MasterKey != nil && len(c.MasterKey) != 32 {
		errs = append(errs, fmt.Errorf("master key is %d bytes; it must be 32", len(c.MasterKey)))
	}
	if c.PollInterval < time.Second {
		errs = append(errs, fmt.Errorf("poll interval %v is too short (at least 1s)", c.PollInterval))
	}
	if c.PollWorkers < 0 || c.PollWorkers > MaxPollWorkers {
		errs = append(errs, fmt.Errorf("poll workers %d is outside 1..%d (0 means the default, %d)", c.PollWorkers, MaxPollWorkers, poller.DefaultWorkers))
	}
	if c.PollSpread >= 1 || c.PollSpread != c.PollSpread {
		errs = append(errs, fmt.Errorf("poll spread %v is not below 1 (a fraction of the poll interval)", c.PollSpread))
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("public URL %q is not an http(s) URL", c.PublicURL))
		}
	}
	if c.PoolSupernet.IsValid() || c.PoolBits != 0 {
		super := c.PoolSupernet
		if !super.IsValid() {
			super = fleet.DefaultPoolSupernet
		}
		bits := cmp.Or(c.PoolBits, fleet.DefaultPoolBits)
		if _, err := ipam.CarvePool4(super, bits, nil); err != nil {
			errs = append(errs, fmt.Errorf("pool supernet %s with /%d pools: %w", super, bits, err))
		}
	}
	if c.LimitInterval < 0 || c.LimitInterval > DefaultLimitInterval {
		errs = append(errs, fmt.Errorf("limit check interval %v is outside 0..%v", c.LimitInterval, DefaultLimitInterval))
	}
	if c.SessionTTL < 0 {
		errs = append(errs, errors.New("session TTL must not be negative"))
	}
	if c.MemoryLimit != 0 && c.MemoryLimit < MinMemoryLimit {
		errs = append(errs, fmt.Errorf("memory limit %d bytes is below %d MiB (0 leaves GOMEMLIMIT, or none)", c.MemoryLimit, MinMemoryLimit>>20))
	}
	return errors.Join(errs...)
}
