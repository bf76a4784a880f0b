package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/controller"
	"github.com/wgfleet/wgfleet/controller/auth"
	"github.com/wgfleet/wgfleet/controller/fleet"
	"github.com/wgfleet/wgfleet/controller/poller"
	"github.com/wgfleet/wgfleet/controller/secretbox"
	"github.com/wgfleet/wgfleet/controller/store"
	"github.com/wgfleet/wgfleet/internal/cli"
)

// common are the flags of every command that opens the database.
type common struct {
	dataDir  *cli.Flag[string]
	database *cli.Flag[string]
	logging  cli.Logging
}

func addCommon(s *cli.Set) common {
	return common{
		dataDir:  cli.String(s, "data-dir", "WG_CONTROLLER_DATA_DIR", controller.DefaultDataDir, "database and master key"),
		database: addDatabase(s),
		logging:  cli.LogFlags(s, "WG_CONTROLLER_LOG_FORMAT", "WG_CONTROLLER_LOG_LEVEL"),
	}
}

// addDatabase is the --database flag: a PostgreSQL URL instead of SQLite
// in the data directory. Give it in the environment: a password on the
// command line shows in the process list.
func addDatabase(s *cli.Set) *cli.Flag[string] {
	return cli.String(s, "database", "WG_CONTROLLER_DATABASE_URL", "",
		"PostgreSQL URL (postgres://USER:PASSWORD@HOST/DB) to keep the state in; empty: SQLite in the data directory")
}

// masterKey reads WG_CONTROLLER_MASTER_KEY (base64 or hex of 32 bytes);
// nil when unset, so the key file in the data directory is used.
func masterKey(getenv func(string) string) ([]byte, error) {
	v := getenv("WG_CONTROLLER_MASTER_KEY")
	if v == "" {
		return nil, nil
	}
	k, err := secretbox.ParseKey(v)
	if err != nil {
		return nil, fmt.Errorf("WG_CONTROLLER_MASTER_KEY: %w", err)
	}
	return k, nil
}

// loadServe reads the serve command's flags and environment into a
// validated controller configuration, and the local node's (nil without
// --local-node).
func loadServe(args []string, getenv func(string) string, stderr io.Writer) (controller.Config, *localNodeConfig, error) {
	s := cli.NewSet("wg-controller serve", stderr)
	var (
		c          = addCommon(s)
		listen     = cli.String(s, "listen", "WG_CONTROLLER_LISTEN", controller.DefaultListen, "HTTP listen address of the UI and API")
		poll       = cli.Duration(s, "poll-interval", "WG_CONTROLLER_POLL_INTERVAL", controller.DefaultPollInterval, "how often every enabled node is polled")
		workers    = cli.Int(s, "poll-workers", "WG_CONTROLLER_POLL_WORKERS", poller.DefaultWorkers, "how many agents a poll cycle reads at once")
		spread     = cli.Var(s, "poll-spread", "WG_CONTROLLER_POLL_SPREAD", controller.DefaultPollSpread, parseSpread, "share of the poll interval a cycle's polls are paced over, 0 to below 1 (0: not paced)")
		secure     = cli.Bool(s, "secure-cookies", "WG_CONTROLLER_SECURE_COOKIES", false, "mark session cookies Secure; set it when served over TLS")
		sessionTTL = cli.Duration(s, "session-ttl", "WG_CONTROLLER_SESSION_TTL", 12*time.Hour, "how long a login lasts")
		publicURL  = cli.String(s, "public-url", "WG_CONTROLLER_PUBLIC_URL", "", "the controller's URL as joining agents reach it, for join commands; default: the URL the request came in by")
		joinPin    = cli.Var(s, "join-pin", "WG_CONTROLLER_JOIN_PIN", agentapi.Fingerprint{}, parsePin, "SHA-256 of the TLS certificate agents see at --public-url (self-signed); join tokens carry it")
		supernet   = cli.Var(s, "pool-supernet", "WG_CONTROLLER_POOL_SUPERNET", fleet.DefaultPoolSupernet, parseSupernet, "IPv4 range the pools of joining nodes are carved from")
		poolBits   = cli.Int(s, "pool-prefix", "WG_CONTROLLER_POOL_PREFIX", fleet.DefaultPoolBits, "prefix length of a joining node's pool")
		local      = addLocalNodeFlags(s)
		replica    = cli.String(s, "replica-name", "WG_CONTROLLER_REPLICA_NAME", "", "this controller's name among replicas on one database; default: host name and the port of --listen")
		memLimit   = cli.Var(s, "memory-limit", "WG_CONTROLLER_MEMORY_LIMIT", int64(0), parseBytes, "soft memory limit of the process (like 900MiB; 0 or none: GOMEMLIMIT, or none)")
	)
	if err := s.Parse(args, getenv); err != nil {
		return controller.Config{}, nil, err
	}
	key, err := masterKey(getenv)
	if err != nil {
		return controller.Config{}, nil, err
	}
	cfg := controller.Config{
		Listen: listen.Get(), DataDir: c.dataDir.Get(), Database: c.database.Get(), MasterKey: key, PollInterval: poll.Get(),
		PollWorkers: workers.Get(), PollSpread: pollSpread(spread.Get()), AdminPassword: getenv("WG_CONTROLLER_ADMIN_PASSWORD"), BootstrapOut: stderr,
		SecureCookies: secure.Get(), SessionTTL: sessionTTL.Get(), Logger: c.logging.Logger(stderr),
		PublicURL: publicURL.Get(), JoinPin: joinPin.Get(), PoolSupernet: supernet.Get(), PoolBits: poolBits.Get(),
		ReplicaName: replica.Get(), MemoryLimit: memLimit.Get(),
	}
	return cfg, local.config(), cfg.Validate()
}

// parseSpread reads --poll-spread: a fraction from 0 to below 1.
func parseSpread(v string) (float64, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || !(f >= 0 && f < 1) {
		return 0, fmt.Errorf("%q is not a share of the poll interval from 0 to below 1", v)
	}
	return f, nil
}

// pollSpread is controller.Config.PollSpread for --poll-spread f: 0 turns
// pacing off, which the Config says with a negative value (its 0 is the
// default).
func pollSpread(f float64) float64 {
	if f == 0 {
		return -1
	}
	return f
}

// parsePin reads a certificate's SHA-256 as agentapi.ParseFingerprint
// does.
func parsePin(v string) (agentapi.Fingerprint, error) {
	fp, err := agentapi.ParseFingerprint(v)
	if err != nil {
		return fp, fmt.Errorf("%q: %w", v, err)
	}
	return fp, nil
}

// parseSupernet reads an IPv4 prefix such as 10.128.0.0/9.
func parseSupernet(v string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(v)
	if err != nil || !p.Addr().Is4() || p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("%q is not a masked IPv4 prefix (like 10.128.0.0/9)", v)
	}
	return p, nil
}

// offline is what the commands that open the database directly (token,
// user, enroll-token, rekey, migrate-db) share after their own flags are added to the set.
type offline struct {
	dataDir  string
	database string // "": SQLite in dataDir
	log      *slog.Logger
	key      []byte // nil: the key file in dataDir
}

// open opens the store the offline command names, under its master key.
func (o offline) open(ctx context.Context) (*store.Store, error) {
	return controller.OpenStore(ctx, o.dataDir, o.database, o.key)
}

// openAuth opens the store and an authenticator on it, for the commands
// that manage users and tokens; the caller closes the store.
func (o offline) openAuth(ctx context.Context) (*store.Store, *auth.Authenticator, error) {
	st, err := o.open(ctx)
	if err != nil {
		return nil, nil, err
	}
	a, err := auth.New(auth.Config{Store: st, Logger: o.log})
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return st, a, nil
}

// parseOffline adds the common flags to s, parses args and the
// environment and returns the data directory, a logger and the master key
// from WG_CONTROLLER_MASTER_KEY.
func parseOffline(s *cli.Set, args []string, getenv func(string) string, stderr io.Writer) (offline, error) {
	c := addCommon(s)
	if err := s.Parse(args, getenv); err != nil {
		return offline{}, err
	}
	key, err := masterKey(getenv)
	if err != nil {
		return offline{}, err
	}
	if d := c.database.Get(); d != "" && !store.IsPostgresURL(d) {
		return offline{}, errors.New("--database must be a postgres:// or postgresql:// URL (leave it empty for SQLite in the data directory)")
	}
	return offline{dataDir: c.dataDir.Get(), database: c.database.Get(), log: c.logging.Logger(stderr), key: key}, nil
}
