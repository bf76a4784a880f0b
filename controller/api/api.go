package api

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gorilla/mux"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/controller/auth"
	"github.com/wgfleet/wgfleet/controller/fleet"
	"github.com/wgfleet/wgfleet/controller/reconcile"
	"github.com/wgfleet/wgfleet/controller/traffic"
	"github.com/wgfleet/wgfleet/controller/webhook"
)

// Reconciler is what the API needs of controller/reconcile: a node's
// drift, and a repair on demand. *reconcile.Reconciler satisfies it.
type Reconciler interface {
	// Drift reads the node's agent and returns how it differs from the
	// desired state, changing nothing.
	Drift(ctx context.Context, nodeID int64) ([]reconcile.Drift, error)
	// Repair reconciles the node now, applying every difference whatever
	// the node's drift policy.
	Repair(ctx context.Context, nodeID int64) (reconcile.Result, error)
}

// Config configures the handler New returns.
type Config struct {
	Fleet *fleet.Service      // required
	Auth  *auth.Authenticator // required
	// Reconciler serves the drift and reconcile routes; nil makes them
	// answer 503.
	Reconciler Reconciler
	Logger     *slog.Logger // nil discards
	// SecureCookies sets the Secure attribute on the session cookie. Set it
	// whenever the controller is reached over HTTPS.
	SecureCookies bool
	// UI, when not nil, serves every path outside /api/ and /healthz (the
	// web UI). Without it those paths are 404.
	UI http.Handler
	// Metrics, when not nil, serves GET /metrics (Prometheus text format)
	// to authenticated callers: give the scraper an API token as its
	// bearer token.
	Metrics http.Handler
	// ShareLimit bounds the lookups of share links (their page and
	// POST /api/share/open) per client address; nil means
	// DefaultShareLookups per DefaultShareLookupWindow.
	ShareLimit *auth.LookupLimiter
	// PublicURL is the controller's URL as agents reach it, for the join
	// command of a new enrollment token; "" means the scheme and host of
	// the request that made the token.
	PublicURL string
	// JoinPin is the SHA-256 of the controller's TLS certificate, carried
	// by every new join token so that agents trust that certificate (zero:
	// tokens carry none).
	JoinPin agentapi.Fingerprint
	// Webhooks serves /api/webhooks; nil makes those routes answer 503.
	Webhooks *webhook.Dispatcher
	// Traffic serves the traffic history routes; nil makes them answer
	// 503.
	Traffic *traffic.Service
	// Demo, when not nil, marks the controller of `wg-controller demo`:
	// GET /api/demo hands it to the UI, which shows what to try next.
	Demo *Demo
	// Replica serves GET /api/status (this replica and the leader); nil
	// makes it answer 503.
	Replica Replica
}

// server holds what the handlers share.
type server struct {
	fleet         *fleet.Service
	auth          *auth.Authenticator
	reconciler    Reconciler
	log           *slog.Logger
	secureCookies bool
	router        *mux.Router
	ui            http.Handler
	metrics       http.Handler
	shareLimit    *auth.LookupLimiter
	publicURL     string
	joinPin       agentapi.Fingerprint
	webhooks      *webhook.Dispatcher
	traffic       *traffic.Service
	// access is the role each route needs, by "METHOD /path/{template}"
	// (routes), for the test that walks the router.
	access  map[string]routeAccess
	demo    *Demo
	replica Replica
}

// New returns the controller's HTTP handler. It panics when cfg.Fleet or
// cfg.Auth is nil.
func New(cfg Config) http.Handler { return newServer(cfg).handler() }

// newServer makes the server of New, its routes included.
func newServer(cfg Config) *server {
	if cfg.Fleet == nil || cfg.Auth == nil {
		panic("api: Config.Fleet and Config.Auth are required")
	}
	s := &server{
		fleet:         cfg.Fleet,
		auth:          cfg.Auth,
		reconciler:    cfg.Reconciler,
		log:           cfg.Logger,
		secureCookies: cfg.SecureCookies,
		ui:            cfg.UI,
		metrics:       cfg.Metrics,
		shareLimit:    cfg.ShareLimit,
		publicURL:     strings.TrimRight(cfg.PublicURL, "/"),
		joinPin:       cfg.JoinPin,
		webhooks:      cfg.Webhooks,
		traffic:       cfg.Traffic,
		demo:          cfg.Demo,
		replica:       cfg.Replica,
	}
	if s.shareLimit == nil {
		s.shareLimit = auth.NewLookupLimiter(DefaultShareLookups, DefaultShareLookupWindow, "share link lookups", nil)
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.router = s.routes()
	return s
}

// handler is the server's HTTP handler: every answer with the security
// headers, every request logged, then dispatched.
func (s *server) handler() http.Handler {
	return s.securityHeaders(s.logRequests(http.HandlerFunc(s.dispatch)))
}

// dispatch sends /api/, /healthz and /metrics to the router, share links
// to their page and everything else to the UI.
func (s *server) dispatch(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == "/api" || strings.HasPrefix(p, "/api/") || p == "/healthz" || p == "/metrics":
		s.router.ServeHTTP(w, r)
	case strings.HasPrefix(p, SharePathPrefix):
		s.sharePage(w, r)
	case s.ui != nil:
		s.ui.ServeHTTP(w, r)
	default:
		s.fail(w, r, notFoundf("no such page: %s", p))
	}
}
