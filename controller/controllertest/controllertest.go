// Package controllertest runs real controllers for tests of other
// packages: store, API, UI, poller and reconciler on a loopback port, with
// a known admin password, stopped (and checked to stop cleanly) when the
// test ends.
package controllertest

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/controller"
	"github.com/wgfleet/wgfleet/controller/api"
)

// AdminPassword is the password of the admin user of every test controller.
const AdminPassword = "correct-horse-battery-staple"

// Controller is a running test controller.
type Controller struct {
	*controller.Controller
	URL     string // http://127.0.0.1:PORT
	DataDir string
	cancel  context.CancelFunc
	done    chan error
	stopped bool
}

// Start runs a controller on dataDir ("" for a fresh temporary one) that
// polls every second.
func Start(t testing.TB, dataDir string) *Controller {
	t.Helper()
	return StartPolling(t, dataDir, time.Second)
}

// StartPolling is Start with a poll interval of its own.
func StartPolling(t testing.TB, dataDir string, interval time.Duration) *Controller {
	t.Helper()
	return StartWith(t, Options{DataDir: dataDir, PollInterval: interval})
}

// Options shape a test controller; the zero value is Start's.
type Options struct {
	DataDir      string        // "" for a fresh temporary one
	PollInterval time.Duration // 0: a second
	// PollWorkers is how many agents a poll cycle reads at once; 0: the
	// controller's default.
	PollWorkers int
	// LimitInterval is how often peers' expiry and data limits are
	// checked besides the polls; 0: the controller's default (a minute).
	LimitInterval time.Duration
	// Now is the clock expiry is judged by (a testenv.Clock's Now); nil:
	// time.Now.
	Now func() time.Time
	// Demo runs it as `wg-controller demo` does, suggesting these
	// commands (GET /api/demo); nil for an ordinary controller.
	Demo *api.Demo
	// Database is a PostgreSQL URL to keep the state in; "": SQLite in
	// DataDir. Replicas on one database need the same MasterKey.
	Database string
	// MasterKey is the master key; nil: DataDir's master.key.
	MasterKey []byte
	// ReplicaName names the controller among replicas; "": the default.
	ReplicaName string
	// PublicURL is the controller's public URL (--public-url); "": none.
	PublicURL string
}

// StartWith runs a controller shaped by o until the test ends (or Stop).
func StartWith(t testing.TB, o Options) *Controller {
	t.Helper()
	dataDir := o.DataDir
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	if o.PollInterval == 0 {
		o.PollInterval = time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	c, err := controller.New(ctx, controller.Config{
		Listen: "127.0.0.1:0", DataDir: dataDir, PollInterval: o.PollInterval, PollWorkers: o.PollWorkers, AdminPassword: AdminPassword,
		LimitInterval: o.LimitInterval, Now: o.Now, Demo: o.Demo, Database: o.Database, MasterKey: o.MasterKey, ReplicaName: o.ReplicaName,
		PublicURL: o.PublicURL,
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		c.Close()
		t.Fatal(err)
	}
	tc := &Controller{Controller: c, URL: "http://" + ln.Addr().String(), DataDir: dataDir, cancel: cancel, done: make(chan error, 1)}
	go func() { tc.done <- c.Serve(ctx, ln) }()
	t.Cleanup(func() {
		if err := tc.Stop(); err != nil {
			t.Errorf("controller stopped with %v", err)
		}
	})
	return tc
}

// Stop shuts the controller down and returns what Serve returned; later
// calls return nil.
func (c *Controller) Stop() error {
	if c.stopped {
		return nil
	}
	c.stopped = true
	c.cancel()
	return <-c.done
}
