package controller

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/wgfleet/wgfleet/controller/agentclient"
	"github.com/wgfleet/wgfleet/controller/api"
	"github.com/wgfleet/wgfleet/controller/auth"
	"github.com/wgfleet/wgfleet/controller/events"
	"github.com/wgfleet/wgfleet/controller/fleet"
	"github.com/wgfleet/wgfleet/controller/leader"
	"github.com/wgfleet/wgfleet/controller/metrics"
	"github.com/wgfleet/wgfleet/controller/poller"
	"github.com/wgfleet/wgfleet/controller/reconcile"
	"github.com/wgfleet/wgfleet/controller/store"
	"github.com/wgfleet/wgfleet/controller/traffic"
	"github.com/wgfleet/wgfleet/controller/ui"
	"github.com/wgfleet/wgfleet/controller/webhook"
	"github.com/wgfleet/wgfleet/internal/httpserve"
)

// Controller is a configured controller: the store is open and the first
// user exists as soon as New returns; Serve or Run starts the background
// work and the HTTP server.
type Controller struct {
	cfg        Config
	log        *slog.Logger
	store      *store.Store
	auth       *auth.Authenticator
	clients    *agentclient.Pool
	reconciler *reconcile.Reconciler
	poller     *poller.Poller
	webhooks   *webhook.Dispatcher
	fleet      *fleet.Service
	traffic    *traffic.Service
	elector    *leader.Elector
	handler    http.Handler

	closeOnce sync.Once
	closeErr  error
}

// New opens (or creates) the data directory, the master key and the
// database, runs migrations, and creates the admin user on first start.
func New(ctx context.Context, cfg Config) (*Controller, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid configuration: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	applyMemoryLimit(cfg.MemoryLimit, log)
	st, err := openStore(ctx, cfg.DataDir, cfg.Database, cfg.MasterKey, log)
	if err != nil {
		return nil, err
	}
	out := cfg.BootstrapOut
	if out == nil {
		out = io.Discard
	}
	if created, err := auth.Bootstrap(ctx, st, cfg.AdminPassword, out); err != nil {
		st.Close()
		return nil, err
	} else if created {
		log.Info("created the first user", "username", auth.AdminUsername)
	} else if changed, err := auth.ApplyAdminPassword(ctx, st, cfg.AdminPassword); err != nil {
		st.Close()
		return nil, err
	} else if changed {
		log.Warn("changed the admin password from the environment; the admin's sessions are ended", "username", auth.AdminUsername)
	}
	authn, err := auth.New(auth.Config{Store: st, Logger: log.With("component", "auth"), SessionTTL: cfg.SessionTTL, Now: cfg.Now})
	if err != nil {
		st.Close()
		return nil, err
	}
	clients := agentclient.NewPool(agentclient.PoolOptions{})
	name := cfg.ReplicaName
	if name == "" {
		name = defaultReplicaName(cfg.Listen)
	}
	elector := leader.New(leader.Config{
		Store: st, Name: name, Interval: electorInterval(cfg.PollInterval), Logger: log.With("component", "leader"),
	})
	// Every fleet event goes to the webhooks' queue (and to cfg.Events,
	// when set).
	hooks := webhook.New(webhook.Config{Store: st, Logger: log.With("component", "webhook")})
	pub := events.Multi(hooks, cfg.Events)
	rec := reconcile.New(reconcile.Config{Store: st, Clients: clients, Logger: log.With("component", "reconcile"), Events: pub, Fence: elector})
	// The fleet service watches through the poller, and the poller applies
	// limits through the fleet service (set below, before anything polls).
	var fl *fleet.Service
	limits := poller.LimitsFunc(func(ctx context.Context, nodeID int64) error { return fl.EnforceLimits(ctx, nodeID) })
	pl := poller.New(poller.Config{
		Store: st, Clients: clients, Reconciler: rec, Limits: limits, Logger: log.With("component", "poller"), Interval: cfg.PollInterval,
		Workers: cfg.PollWorkers, Spread: pollSpread(cfg.PollSpread), Events: pub, Now: cfg.Now,
	})
	fl = fleet.New(fleet.Config{
		Store: st, Syncer: rec, Watcher: pl, Agents: clients, Logger: log.With("component", "fleet"),
		PoolSupernet: cfg.PoolSupernet, PoolBits: cfg.PoolBits, Now: cfg.Now, Events: pub,
		PublicURL: cfg.PublicURL,
	})
	history := traffic.New(traffic.Config{Store: st, Now: cfg.Now, Logger: log.With("component", "traffic")})
	c := &Controller{
		cfg:        cfg,
		log:        log,
		store:      st,
		auth:       authn,
		clients:    clients,
		reconciler: rec,
		poller:     pl,
		webhooks:   hooks,
		fleet:      fl,
		traffic:    history,
		elector:    elector,
	}
	c.handler = api.New(api.Config{
		Fleet: c.fleet, Auth: authn, Reconciler: rec, Logger: log.With("component", "api"),
		SecureCookies: cfg.SecureCookies, UI: ui.Handler(), Metrics: metrics.New(st, log.With("component", "metrics"), elector),
		PublicURL: cfg.PublicURL, JoinPin: cfg.JoinPin, Webhooks: hooks, Traffic: history, Demo: cfg.Demo, Replica: elector,
		ShareLimit: auth.NewSharedLookupLimiter(st, "share", api.DefaultShareLookups, api.DefaultShareLookupWindow,
			"share link lookups", cfg.Now, log.With("component", "auth")),
	})
	return c, nil
}

// OpenStore opens the database (the PostgreSQL URL database, or the SQLite
// file in dataDir when it is "") under the master key (masterKey, or
// dataDir/master.key made on first start with mode 0600) and runs its
// migrations. With the key file it also completes or discards a rekey that
// was interrupted (see Rekey). The token and rekey commands use it without
// starting a controller.
func OpenStore(ctx context.Context, dataDir, database string, masterKey []byte) (*store.Store, error) {
	return openStore(ctx, dataDir, database, masterKey, slog.New(slog.DiscardHandler))
}

// Handler is the controller's HTTP API and UI.
func (c *Controller) Handler() http.Handler { return c.handler }

// Fleet is the service layer, for in-process callers (the demo, tests).
func (c *Controller) Fleet() *fleet.Service { return c.fleet }

// Auth is the authenticator, for in-process callers (token commands, tests).
func (c *Controller) Auth() *auth.Authenticator { return c.auth }

// Store is the database, for in-process callers (tests).
func (c *Controller) Store() *store.Store { return c.store }

// Run listens on cfg.Listen and serves until ctx is done.
func (c *Controller) Run(ctx context.Context) error {
	return httpserve.Listen(ctx, c.cfg.Listen, c.Serve, c.Close)
}

// Serve serves HTTP on ln until ctx is done and meanwhile takes part in
// the election of the leader (controller/leader; on SQLite this replica
// always leads), which runs the reconciler, the poller, the check of
// peers' expiry and data limits (every Config.LimitInterval), the
// traffic history's rollup and the webhook deliveries (Controller.lead). Then it drains requests, stops
// the background work, waits for it, and closes the store. It always
// closes the controller before it returns.
func (c *Controller) Serve(ctx context.Context, ln net.Listener) error {
	// The background work outlives ctx by the time the HTTP server takes
	// to drain: requests still answering may trigger reconciles.
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	if c.cfg.ReplicaName == "" {
		c.elector.Rename(defaultReplicaName(ln.Addr().String()))
	}
	var (
		wg            sync.WaitGroup
		leadErr, eErr error
	)
	wg.Go(func() {
		eErr = c.elector.Run(bg, func(ctx context.Context) {
			if err := c.lead(ctx); err != nil {
				leadErr = errors.Join(leadErr, err)
			}
		})
	})
	c.log.Info("controller listening", "url", "http://"+ln.Addr().String(), "data_dir", c.cfg.DataDir, "replica", c.elector.Name())
	serveErr := httpserve.Serve(ctx, httpserve.NewServer(c.handler, c.log), ln, 10*time.Second, nil)
	c.log.Info("shutting down")
	stopBG()
	wg.Wait()
	return errors.Join(serveErr, leadErr, eErr, c.Close())
}

// Close closes the store. It is idempotent.
func (c *Controller) Close() error {
	c.closeOnce.Do(func() {
		c.closeErr = c.store.Close()
		c.log.Info("controller stopped")
	})
	return c.closeErr
}
