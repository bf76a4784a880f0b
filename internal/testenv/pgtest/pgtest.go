// Package pgtest starts throwaway PostgreSQL clusters for tests: initdb in
// a fresh temporary directory, the server listening only on a unix socket
// in that directory, a database per test, and everything stopped and
// removed afterwards. The server binaries come from Debian's postgresql
// package (/usr/lib/postgresql/NN/bin) or wherever pg_config says.
//
// initdb and postgres refuse to run as root; under root (as in CI) the
// cluster runs as nobody, its directory owned by nobody.
//
// Without the binaries, Start returns ErrNoPostgres, and Require skips the
// test, or fails it when WGFLEET_REQUIRE_ALL is set (as .ci/run does).
package pgtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver

	"github.com/wgfleet/wgfleet/internal/testenv"
)

// BinDirEnv names a directory holding initdb and postgres, to use instead
// of searching for them.
const BinDirEnv = "WGFLEET_PG_BINDIR"

// ErrNoPostgres reports that the PostgreSQL server binaries were not found.
var ErrNoPostgres = errors.New("PostgreSQL server binaries (initdb, postgres) not found: apt-get install postgresql, or set " + BinDirEnv)

// Role is the unprivileged role that owns the databases a Cluster makes.
const Role = "wgfleet"

// Cluster is a running throwaway PostgreSQL cluster.
type Cluster struct {
	bin   string // directory of the server binaries
	dir   string // data directory (dir/data), socket and log
	port  int
	cmd   *exec.Cmd
	done  chan error // the server's exit
	admin *sql.DB    // superuser connection, for CREATE DATABASE
	n     atomic.Int64
	// template is the database new ones are copied from; "" is
	// PostgreSQL's default (an empty database). Set before use.
	template string
}

// BinDir finds the directory of the PostgreSQL server binaries:
// $WGFLEET_PG_BINDIR, else `pg_config --bindir` when it holds initdb,
// else the newest /usr/lib/postgresql/NN/bin (Debian keeps the server
// binaries there, off PATH, and its pg_config may describe only libpq).
func BinDir() (string, error) {
	has := func(dir string) bool {
		_, err1 := os.Stat(filepath.Join(dir, "initdb"))
		_, err2 := os.Stat(filepath.Join(dir, "postgres"))
		return err1 == nil && err2 == nil
	}
	if d := os.Getenv(BinDirEnv); d != "" {
		if !has(d) {
			return "", fmt.Errorf("%s=%s holds no initdb and postgres", BinDirEnv, d)
		}
		return d, nil
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		if d := strings.TrimSpace(string(out)); has(d) {
			return d, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return versionOf(b) - versionOf(a) })
	for _, d := range dirs {
		if has(d) {
			return d, nil
		}
	}
	return "", ErrNoPostgres
}

// versionOf is NN of /usr/lib/postgresql/NN/bin, 0 if it is not a number.
func versionOf(dir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return v
}

// Start initializes and starts a cluster. The caller must Stop it; if the
// test process dies first, the server is killed with it (parent-death
// signal) and only its directory under the temp dir is left.
func Start(ctx context.Context) (*Cluster, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "wgfleet-pg-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{bin: bin, dir: dir, done: make(chan error, 1)}
	cred, err := c.owner()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	env := []string{"PATH=/usr/bin:/bin", "LC_ALL=C", "TZ=UTC"}
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", filepath.Join(dir, "data"),
		"-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C")
	initdb.Env, initdb.Dir = env, dir
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pgtest: initdb: %w\n%s", err, out)
	}
	// Unix socket only, in dir: no TCP port to collide with another
	// cluster, and the port number only names the socket file, so the
	// default one is unique too. Durability is off: the cluster is thrown
	// away.
	c.port = 5432
	c.cmd = exec.Command(filepath.Join(bin, "postgres"), "-D", filepath.Join(dir, "data"),
		"-k", dir, "-p", strconv.Itoa(c.port), "-c", "listen_addresses=",
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200", "-c", "shared_buffers=16MB", "-c", "log_min_messages=warning")
	c.cmd.Env, c.cmd.Dir = env, dir
	logf, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	defer logf.Close()
	if cred != nil {
		if err := logf.Chown(int(cred.Uid), int(cred.Gid)); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	c.cmd.Stdout, c.cmd.Stderr = logf, logf
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT}
	if err := c.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pgtest: starting postgres: %w", err)
	}
	go func() { c.done <- c.cmd.Wait() }()
	if err := c.connect(ctx); err != nil {
		log := c.Log()
		c.Stop()
		return nil, fmt.Errorf("pgtest: %w\nserver log:\n%s", err, log)
	}
	return c, nil
}

// owner is the credential the cluster runs as: nil (this process's user)
// unless this process is root, then nobody, who gets the directory.
func (c *Cluster) owner() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	if err := os.Chown(c.dir, testenv.NobodyID, testenv.NobodyID); err != nil {
		return nil, fmt.Errorf("pgtest: giving %s to nobody: %w", c.dir, err)
	}
	return &syscall.Credential{Uid: testenv.NobodyID, Gid: testenv.NobodyID, Groups: []uint32{}}, nil
}

// connect waits for the server to accept connections and creates Role.
func (c *Cluster) connect(ctx context.Context) error {
	db, err := sql.Open("pgx", c.url("postgres", "postgres"))
	if err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		err = db.PingContext(ctx)
		if err == nil {
			break
		}
		select {
		case werr := <-c.done:
			c.done <- werr
			db.Close()
			return fmt.Errorf("postgres exited: %v", werr)
		default:
		}
		if time.Now().After(deadline) {
			db.Close()
			return fmt.Errorf("postgres did not accept connections within 30s: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := db.ExecContext(ctx, "CREATE ROLE "+Role+" LOGIN"); err != nil {
		db.Close()
		return fmt.Errorf("creating role %s: %w", Role, err)
	}
	c.admin = db
	return nil
}

// url is the URL of database db as user, over the cluster's socket.
func (c *Cluster) url(user, db string) string {
	q := url.Values{"host": {c.dir}, "port": {strconv.Itoa(c.port)}, "sslmode": {"disable"}}
	return (&url.URL{Scheme: "postgres", User: url.User(user), Path: "/" + db, RawQuery: q.Encode()}).String()
}

// CreateDatabase makes a new database owned by Role, a copy of the
// template (see SetTemplate) or else empty, and returns its URL
// (connecting as Role, which is no superuser).
func (c *Cluster) CreateDatabase(ctx context.Context) (string, error) {
	return c.createDatabase(ctx, c.template)
}

// CreateEmptyDatabase is CreateDatabase without the template.
func (c *Cluster) CreateEmptyDatabase(ctx context.Context) (string, error) {
	return c.createDatabase(ctx, "")
}

func (c *Cluster) createDatabase(ctx context.Context, template string) (string, error) {
	name := fmt.Sprintf("db%d", c.n.Add(1))
	q := "CREATE DATABASE " + name + " OWNER " + Role
	if template != "" {
		q += " TEMPLATE " + template
	}
	if _, err := c.admin.ExecContext(ctx, q); err != nil {
		return "", fmt.Errorf("pgtest: creating database %s: %w", name, err)
	}
	return c.url(Role, name), nil
}

// SetTemplate makes the database at dbURL (one of this cluster's, with no
// connection open) the one CreateDatabase copies from then on: a package
// whose tests all need the same schema migrates it once.
func (c *Cluster) SetTemplate(dbURL string) error {
	u, err := url.Parse(dbURL)
	if err != nil {
		return fmt.Errorf("pgtest: template %s: %w", dbURL, err)
	}
	c.template = strings.TrimPrefix(u.Path, "/")
	return nil
}

// NewDatabase is CreateDatabase for a test; it fails the test on error.
func (c *Cluster) NewDatabase(t testing.TB) string {
	t.Helper()
	u, err := c.CreateDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// Dump returns pg_dump's plain SQL dump of the database at dbURL, as a
// backup would hold it.
func (c *Cluster) Dump(ctx context.Context, dbURL string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, "pg_dump"), "--no-owner", "--dbname="+dbURL)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("pgtest: pg_dump: %w: %s", err, stderr.String())
	}
	return out, nil
}

// Log returns the server's log so far.
func (c *Cluster) Log() string {
	b, _ := os.ReadFile(filepath.Join(c.dir, "server.log"))
	return string(b)
}

// Stop stops the server (a fast shutdown: sessions are ended) and removes
// its directory. It is not safe to call twice.
func (c *Cluster) Stop() error {
	if c.admin != nil {
		c.admin.Close()
	}
	var err error
	if c.cmd != nil && c.cmd.Process != nil {
		_ = c.cmd.Process.Signal(syscall.SIGINT)
		select {
		case err = <-c.done:
		case <-time.After(30 * time.Second):
			_ = c.cmd.Process.Kill()
			err = errors.Join(errors.New("pgtest: postgres did not stop within 30s of SIGINT"), <-c.done)
		}
		var exit *exec.ExitError
		if errors.As(err, &exit) && exit.Exited() && exit.ExitCode() == 0 {
			err = nil
		}
	}
	return errors.Join(err, os.RemoveAll(c.dir))
}

// Require starts a cluster for one test, stopped when the test ends. When
// the binaries are missing it skips the test, or fails it under
// WGFLEET_REQUIRE_ALL.
func Require(t testing.TB) *Cluster {
	t.Helper()
	c, err := Start(context.Background())
	if errors.Is(err, ErrNoPostgres) {
		if os.Getenv(testenv.RequireAllEnv) != "" {
			t.Fatalf("prerequisite missing (and %s is set): %v", testenv.RequireAllEnv, err)
		}
		t.Skipf("skipping: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("stopping PostgreSQL: %v", err)
		}
	})
	return c
}

// Shared starts the cluster a package's TestMain shares between its tests.
// It returns nil and the reason when the binaries are missing and
// WGFLEET_REQUIRE_ALL is not set; any other failure is an error.
func Shared(ctx context.Context) (c *Cluster, skipped string, err error) {
	c, err = Start(ctx)
	if errors.Is(err, ErrNoPostgres) && os.Getenv(testenv.RequireAllEnv) == "" {
		return nil, err.Error(), nil
	}
	return c, "", err
}
