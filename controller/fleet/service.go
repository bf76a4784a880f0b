package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/controller/agentclient"
	"github.com/wgfleet/wgfleet/controller/events"
	"github.com/wgfleet/wgfleet/controller/store"
)

// Syncer brings a node's agent to the node's desired state in the store.
// controller/reconcile implements it. Trigger must not block: it asks for
// a reconcile of the node soon; the service calls it after every committed
// change, with the id of each node whose desired state changed (also of a
// node just deleted, so the reconciler can forget it).
type Syncer interface {
	Trigger(nodeID int64)
}

// Pusher is a Syncer that can also put a peer just created on its node's
// agent at once, with one call, instead of a reconcile of the whole node
// (reconcile.Reconciler.Push); gen is the node's desired generation the
// creation made. Push must not block. A Syncer that is not a Pusher is
// triggered instead.
type Pusher interface {
	Push(nodeID, peerID, gen int64)
}

// Watcher looks at a node's agent soon: controller/poller implements it.
// PollSoon must not block; the service calls it after a node is created
// enabled, enabled, or given another agent URL or secret, so the node's
// status is known at once instead of after a poll interval.
type Watcher interface {
	PollSoon(nodeID int64)
}

// Config configures a Service.
type Config struct {
	// Store is the controller's database. Required.
	Store *store.Store
	// Syncer is told about changed nodes; nil means nobody is.
	Syncer Syncer
	// Watcher is told about nodes to look at now; nil means nobody is.
	Watcher Watcher
	// Logger; nil discards.
	Logger *slog.Logger
	// Now is the clock: of latency measurements, and the time peers'
	// expiry (EnforceLimits) and join tokens' expiry are judged by; nil
	// means time.Now.
	Now func() time.Time
	// Events hears of the fleet's changes (a peer created or deleted) and
	// of what the service notices by itself (a peer expired, a peer over
	// its limit); nil means nobody does.
	Events events.Publisher
	// AgentTimeout bounds each call to an agent (connection tests,
	// fetching a node's public key, best-effort cleanup); 0 means
	// agentapi.DefaultClientTimeout.
	AgentTimeout time.Duration
	// Agents reaches the agents; nil means an agentclient.Pool of the
	// service's own, with AgentTimeout.
	Agents Agents
	// PoolSupernet and PoolBits: a node that joins with a token naming no
	// pool gets the first /PoolBits of PoolSupernet that overlaps no
	// node's pool. Zero values mean DefaultPoolSupernet and
	// DefaultPoolBits.
	PoolSupernet netip.Prefix
	PoolBits     int
	// PublicURL is the controller's own URL (its --public-url); "" when
	// not set. Its host stands for the machine of an agent whose URL is
	// a loopback address when a node's endpoint is derived.
	PublicURL string
}

// Service is the controller's fleet service: nodes, peers, client configs,
// placement and moves. Every change is validated in full first, then
// written in one store transaction together with the bump of the node's
// desired generation and an audit entry; after the commit the Syncer is
// told. The service never waits for an agent to apply a change: an agent
// that is down delays a change, it does not fail it. It is safe for
// concurrent use.
type Service struct {
	store        *store.Store
	syncer       Syncer
	watcher      Watcher
	log          *slog.Logger
	now          func() time.Time
	agentTimeout time.Duration
	agents       Agents
	poolSupernet netip.Prefix
	poolBits     int
	publicURL    string
	events       events.Publisher
	rotating     sync.Map // node id -> struct{}: a secret rotation under way
}

// New returns a Service for cfg. It panics when cfg.Store is nil.
func New(cfg Config) *Service {
	if cfg.Store == nil {
		panic("fleet: Config.Store is nil")
	}
	s := &Service{
		store:        cfg.Store,
		syncer:       cfg.Syncer,
		watcher:      cfg.Watcher,
		log:          cfg.Logger,
		now:          cfg.Now,
		agentTimeout: cfg.AgentTimeout,
		agents:       cfg.Agents,
		poolSupernet: cfg.PoolSupernet,
		poolBits:     cfg.PoolBits,
		publicURL:    cfg.PublicURL,
		events:       events.OrDiscard(cfg.Events),
	}
	if !s.poolSupernet.IsValid() {
		s.poolSupernet = DefaultPoolSupernet
	}
	if s.poolBits == 0 {
		s.poolBits = DefaultPoolBits
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.agentTimeout <= 0 {
		s.agentTimeout = agentapi.DefaultClientTimeout
	}
	if s.agents == nil {
		s.agents = agentclient.NewPool(agentclient.PoolOptions{Timeout: s.agentTimeout})
	}
	return s
}

// trigger tells the Syncer, if any, about each changed node.
func (s *Service) trigger(nodeIDs ...int64) {
	if s.syncer == nil {
		return
	}
	for _, id := range nodeIDs {
		s.syncer.Trigger(id)
	}
}

// push hands a peer just created, with the generation its creation
// made, to the Syncer: pushed when it is a Pusher, else triggered.
func (s *Service) push(nodeID, peerID, gen int64) {
	if p, ok := s.syncer.(Pusher); ok && gen > 0 {
		p.Push(nodeID, peerID, gen)
		return
	}
	s.trigger(nodeID)
}

// watch tells the Watcher to look at the node now.
func (s *Service) watch(nodeID int64) {
	if s.watcher != nil {
		s.watcher.PollSoon(nodeID)
	}
}

// checkActor refuses a change nobody can be held to account for.
func checkActor(a Actor) error {
	if a == "" {
		return errors.New("fleet: a change needs an actor for the audit log")
	}
	return nil
}

// audit appends one audit entry inside tx. details must not hold secrets;
// the store refuses secret-looking keys as a second line of defence.
func audit(ctx context.Context, tx *store.Tx, actor Actor, action, targetType string, targetID int64, details map[string]any) error {
	raw, err := json.Marshal(details)
	if err != nil {
		return fmt.Errorf("encoding audit details of %s: %w", action, err)
	}
	if details == nil {
		raw = nil
	}
	_, err = tx.AppendAudit(ctx, store.AuditEntry{
		Actor:      string(actor),
		Action:     action,
		TargetType: targetType,
		TargetID:   strconv.FormatInt(targetID, 10),
		Details:    raw,
	})
	return err
}
