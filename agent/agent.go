package agent

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/container"
	"github.com/wgfleet/wgfleet/internal/httpserve"
	"github.com/wgfleet/wgfleet/internal/version"
	"github.com/wgfleet/wgfleet/tunnel"
	"github.com/wgfleet/wgfleet/tunnel/forward"
	"github.com/wgfleet/wgfleet/wgrules"
	"golang.org/x/net/netutil"
)

// ReplayLogFile is the name, in the state directory, of the log of
// accepted signatures and nonces that keeps replay protection across
// restarts.
const ReplayLogFile = "replay.log"

// Agent is a running node agent: its tunnels are up and their peers
// restored as soon as New returns; Serve or Run exposes the API.
type Agent struct {
	cfg      Config
	log      *slog.Logger
	env      container.Environment
	envWire  agentapi.Environment
	started  time.Time
	version  string // this build's, reported in /health (internal/version)
	verifier *agentapi.Verifier
	secrets  *secretSet        // what verifier accepts, and its rotation
	budget   *byteBudget       // bytes of bodies not yet authenticated
	ifaces   map[string]*iface // fixed after New
	order    []string          // interface names in configuration order
	handler  http.Handler
	fwds     map[string]*forward.Forwarder // netstack interfaces' routers; fixed after New
	ports    ownPorts                      // the agent's listening ports, protected by the egress policies

	// metricsLn, when cfg.MetricsListen is set, is bound by New and served
	// by Serve with metrics; Close closes it if Serve never ran.
	metricsLn net.Listener
	metrics   http.Handler
	// prom serves the agent's one metrics registry, on the metrics
	// listener and, signed, at GET /v1/metrics.
	prom http.Handler
	cpu  cpuSampler // for GET /v1/status

	// tls serves the API over HTTPS when not nil; tlsFingerprint is its
	// certificate's. Both fixed after New.
	tls            *tls.Config
	tlsFingerprint agentapi.Fingerprint

	closeOnce sync.Once
	closeErr  error
}

// New validates cfg, detects the environment, chooses each interface's mode,
// brings up the tunnels and restores their peers from the state directory.
// It binds the metrics listener when cfg.MetricsListen is set (Serve serves
// it). On error nothing is left running.
func New(cfg Config) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid configuration: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	var env container.Environment
	if cfg.Environment != nil {
		env = *cfg.Environment
	} else {
		env = container.Detect()
	}
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating state directory: %w", err)
	}
	// The replay log keeps every accepted signature and nonce for its
	// window across restarts and crashes (docs/SECURITY.md).
	verifier, err := agentapi.NewVerifier(agentapi.VerifierConfig{
		Secrets: cfg.Secrets, Window: cfg.SignatureWindow,
		ReplayLog: filepath.Join(cfg.StateDir, ReplayLogFile),
	})
	if err != nil {
		return nil, fmt.Errorf("setting up request verification: %w", err)
	}
	// A rotation may have replaced the configured secrets.
	secrets, err := loadSecretSet(filepath.Join(cfg.StateDir, SecretsFile), cfg.Secrets, verifier.SetSecrets)
	if err != nil {
		verifier.Close()
		return nil, err
	}
	a := &Agent{
		cfg:      cfg,
		log:      log,
		env:      env,
		started:  time.Now(),
		version:  version.Get().Version,
		verifier: verifier,
		secrets:  secrets,
		budget:   newByteBudget(cmp.Or(cfg.UnauthBodyBudget, DefaultUnauthBodyBudget)),
		ifaces:   make(map[string]*iface, len(cfg.Interfaces)),
		fwds:     make(map[string]*forward.Forwarder),
	}
	if a.tls, a.tlsFingerprint, err = cfg.TLS.serverTLS(cfg.StateDir); err != nil {
		verifier.Close()
		return nil, err
	}
	a.setAPIPort(listenPort(cfg.Listen)) // 0 (not yet known) until Serve
	if cfg.MetricsListen != "" {
		if a.metricsLn, err = net.Listen("tcp", cfg.MetricsListen); err != nil {
			verifier.Close()
			return nil, fmt.Errorf("metrics: listening on %s: %w", cfg.MetricsListen, err)
		}
		a.ports.set("metrics", listenPort(a.metricsLn.Addr().String()))
	}
	for _, ic := range cfg.Interfaces {
		if err := a.addInterface(ic); err != nil {
			a.Close()
			return nil, err
		}
	}
	a.prom = a.promHandler()
	a.cpu.sample() // the first status reports the CPU since now
	a.handler = a.routes()
	if a.metricsLn != nil {
		a.metrics = a.metricsHandler()
	}
	return a, nil
}

func (a *Agent) addInterface(ic InterfaceConfig) error {
	requested := ic.Mode
	if requested == "" {
		requested = a.cfg.Mode
	}
	choice, err := a.env.Choose(requested)
	if err != nil {
		return fmt.Errorf("interface %s: %w", ic.Name, err)
	}
	a.log.Info("data plane mode chosen", "iface", ic.Name, "requested", requested, "mode", choice.Mode, "reason", choice.Reason,
		"container", a.env.Container, "runtime", a.env.Runtime, "tun_available", a.env.TUNAvailable, "cap_net_admin", a.env.CapNetAdmin)
	if a.envWire.Mode == "" {
		a.envWire = agentapi.Environment{Environment: a.env, ModeRequested: requested, Choice: choice}
	}
	key, err := loadOrCreateKey(filepath.Join(a.cfg.StateDir, ic.Name+".key"))
	if err != nil {
		return fmt.Errorf("interface %s: %w", ic.Name, err)
	}
	mtu := ic.MTU
	if mtu == 0 {
		mtu = wgrules.DefaultMTU
	}
	disabled := disabledFile{path: filepath.Join(a.cfg.StateDir, ic.Name+".disabled")}
	down, err := disabled.exists()
	if err != nil {
		return fmt.Errorf("interface %s: %w", ic.Name, err)
	}
	tcfg := tunnel.Config{
		Name: ic.Name, PrivateKey: key, ListenPort: ic.ListenPort, Addresses: ic.Addresses,
		MTU: mtu, Logger: a.log, UAPIDir: a.cfg.UAPIDir, Down: down,
	}
	var tun *tunnel.Tunnel
	if choice.Mode == container.ModeTUN {
		warnTUNRouting(a.log, ic, "/proc")
		tun, err = tunnel.NewTUN(tcfg)
	} else {
		fwd, ferr := a.newForwarder(ic, mtu)
		if ferr != nil {
			return ferr
		}
		// The tunnel owns the forwarder from here: closing it closes both.
		if tun, err = tunnel.NewNetstackWith(tcfg, fwd.Wrap); err != nil {
			fwd.Close()
		} else {
			a.fwds[ic.Name] = fwd
		}
	}
	if err != nil {
		return fmt.Errorf("interface %s: starting %s tunnel: %w", ic.Name, choice.Mode, err)
	}
	a.ports.set("wg:"+ic.Name, tun.ListenPort())
	i, err := restoreIface(ic.Name, a.cfg.StateDir, tun, a.log)
	if err != nil {
		tun.Close()
		return fmt.Errorf("interface %s: %w", ic.Name, err)
	}
	// Requests whose replay records went into the journal with their
	// changes are refused again; compaction hands them to the replay log.
	a.verifier.LoadReplay(i.store.replays)
	i.store.persistReplay = func(recs []agentapi.ReplayRecord) error { return a.verifier.RecordReplay(recs...) }
	i.disabled = disabled
	if down {
		a.log.Info("interface is disabled (POST /v1/wg/{iface}/enable brings it up)", "iface", ic.Name)
	}
	i.start()
	a.ifaces[ic.Name] = i
	a.order = append(a.order, ic.Name)
	a.log.Info("interface up", "iface", ic.Name, "mode", tun.Mode(), "public_key", tun.PublicKey().String(),
		"listen_port", tun.ListenPort(), "addresses", prefixStrings(tun.Addresses()))
	return nil
}

// Handler is the agent's HTTP API.
func (a *Agent) Handler() http.Handler { return a.handler }

// MetricsAddr is the address the metrics listener is bound to (a port 0
// in MetricsListen resolved), or nil when MetricsListen is "".
func (a *Agent) MetricsAddr() net.Addr {
	if a.metricsLn == nil {
		return nil
	}
	return a.metricsLn.Addr()
}

// TLSFingerprint is the fingerprint of the certificate the API serves
// (what the controller pins); zero when it serves plain HTTP.
func (a *Agent) TLSFingerprint() agentapi.Fingerprint { return a.tlsFingerprint }

// Tunnel returns the named interface's tunnel, or nil.
func (a *Agent) Tunnel(name string) *tunnel.Tunnel {
	if i, ok := a.ifaces[name]; ok {
		return i.tun
	}
	return nil
}

// SetSecrets replaces the configured secrets (the secret file read again,
// for rotation by hand without restart). A secret installed by a rotation
// through the API stays accepted, and configured secrets that rotation
// retired stay refused (docs/OPERATIONS.md).
func (a *Agent) SetSecrets(secrets [][]byte) error {
	c := a.cfg
	c.Secrets = secrets
	if err := c.Validate(); err != nil {
		return err
	}
	return a.secrets.setConfigured(secrets)
}

// Run listens on cfg.Listen and serves until ctx is done, then shuts down.
func (a *Agent) Run(ctx context.Context) error {
	return httpserve.Listen(ctx, a.cfg.Listen, a.Serve, a.Close)
}

// Serve serves the API on ln, and metrics on the metrics listener when
// there is one, until ctx is done, then drains in-flight requests and
// closes the tunnels. It always closes the agent before it returns.
func (a *Agent) Serve(ctx context.Context, ln net.Listener) error {
	maxConns := cmp.Or(a.cfg.MaxConnections, DefaultMaxConnections)
	if a.tls != nil {
		a.log.Info("agent API listening (HTTPS)", "addr", ln.Addr().String(), "version", a.version, "max_connections", maxConns,
			"tls", a.cfg.TLS.Mode, "tls_fingerprint", a.tlsFingerprint.String())
	} else {
		a.log.Info("agent API listening (plain HTTP)", "addr", ln.Addr().String(), "version", a.version, "max_connections", maxConns)
	}
	ln = netutil.LimitListener(ln, maxConns)
	if a.tls != nil {
		ln = tls.NewListener(ln, a.tls)
	}
	a.setAPIPort(listenPort(ln.Addr().String()))
	// A tunnel that stops by itself (its TUN device deleted from outside)
	// stops the agent with an error, so that a supervisor restarts it.
	abort := make(chan error, len(a.order)+1)
	stopWatch := make(chan struct{})
	var watchers sync.WaitGroup
	for _, name := range a.order {
		watchers.Add(1)
		go func(name string, done <-chan struct{}) {
			defer watchers.Done()
			select {
			case <-done:
				a.log.Error("interface stopped unexpectedly; shutting down", "iface", name)
				abort <- fmt.Errorf("interface %s stopped unexpectedly", name)
			case <-stopWatch:
			}
		}(name, a.ifaces[name].tun.Done())
	}
	timeout := a.cfg.ShutdownTimeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	watchers.Add(1)
	go func() {
		defer watchers.Done()
		select {
		case <-ctx.Done():
			a.log.Info("shutting down: draining HTTP requests", "timeout", timeout)
		case <-stopWatch:
		}
	}()
	stopMetrics := a.serveMetrics(timeout, abort)
	err := httpserve.Serve(ctx, httpserve.NewServer(a.handler, a.log), ln, timeout, abort)
	// Stop watching before the tunnels are closed on purpose.
	close(stopWatch)
	watchers.Wait()
	return errors.Join(err, stopMetrics(), a.Close())
}

// serveMetrics serves the metrics listener, if there is one, until the
// returned stop is called; stop drains it within timeout and waits. A
// failure of the metrics server on its own is sent on abort, which stops
// the agent.
func (a *Agent) serveMetrics(timeout time.Duration, abort chan<- error) (stop func() error) {
	if a.metricsLn == nil {
		return func() error { return nil }
	}
	a.log.Info("metrics listening (GET /metrics, no authentication: keep this address private)", "addr", a.metricsLn.Addr().String())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		err := httpserve.Serve(ctx, httpserve.NewServer(a.metrics, a.log), a.metricsLn, timeout, nil)
		if err != nil && ctx.Err() == nil {
			abort <- fmt.Errorf("metrics: %w", err)
			err = nil
		}
		done <- err
	}()
	return func() error {
		cancel()
		if err := <-done; err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
		return nil
	}
}

// Close closes the tunnels. Peer state needs no flush: every change was
// saved before it was acknowledged. Close is idempotent.
func (a *Agent) Close() error {
	a.closeOnce.Do(func() {
		var errs []error
		if a.metricsLn != nil {
			_ = a.metricsLn.Close() // already closed when Serve served it
		}
		for _, name := range a.order {
			i := a.ifaces[name]
			i.stop() // lets a batch in progress finish saving
			if err := i.tun.Close(); err != nil {
				errs = append(errs, fmt.Errorf("closing %s: %w", name, err))
			}
		}
		if err := a.verifier.Close(); err != nil {
			errs = append(errs, fmt.Errorf("closing the replay log: %w", err))
		}
		a.closeErr = errors.Join(errs...)
		a.log.Info("agent stopped")
	})
	return a.closeErr
}
