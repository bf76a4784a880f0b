package fleet

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/controller/fault"
	"github.com/wgfleet/wgfleet/controller/ipam"
	"github.com/wgfleet/wgfleet/controller/labels"
	"github.com/wgfleet/wgfleet/controller/store"
)

// Enrollment (issue 12): an operator makes a join token; an agent started
// with it calls POST /api/enroll once, and the node is created from what
// the agent says about itself and what the token says about the node.

// Defaults and bounds of enrollment.
const (
	// DefaultJoinTTL is a join token's lifetime when none is given.
	DefaultJoinTTL = time.Hour
	MinJoinTTL     = time.Minute
	MaxJoinTTL     = 30 * 24 * time.Hour
	// DefaultPoolBits is the length of a pool carved for a joining node.
	DefaultPoolBits = 24
)

// DefaultPoolSupernet is where joining nodes' pools are carved from when
// neither the token nor the configuration says otherwise.
var DefaultPoolSupernet = netip.MustParsePrefix("10.128.0.0/9")

// ErrEnrollRefused is a join token that cannot be used: unknown, used,
// revoked or expired. Its text says which, never the token.
var ErrEnrollRefused = fault.New(fault.EUNAUTHENTICATED, "join token refused")

// EnrollmentTokenInput is the body of POST /api/enrollment-tokens. A nil
// field is "not given".
type EnrollmentTokenInput struct {
	// Name of the node; absent or "": the joining agent's host name.
	Name *string `json:"name"`
	// Labels the node gets (see package labels).
	Labels labels.Set `json:"labels"`
	// ExpiresIn is the token's lifetime, a Go duration; absent or "":
	// DefaultJoinTTL.
	ExpiresIn *string `json:"expires_in"`
	// IPPool is the node's IPv4 pool; absent or "": carved at enrollment.
	IPPool *string `json:"ip_pool_cidr"`
}

// EnrollmentTokenView is a join token as listed: never the token or its
// hash.
type EnrollmentTokenView struct {
	ID        int64      `json:"id"`
	Prefix    string     `json:"prefix"`
	Name      string     `json:"name"`
	Labels    labels.Set `json:"labels"`       // never null: {} for none
	IPPool    string     `json:"ip_pool_cidr"` // "": carved at enrollment
	State     string     `json:"state"`        // active, used, revoked or expired
	CreatedBy string     `json:"created_by"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt time.Time  `json:"expires_at"`
	UsedAt    *time.Time `json:"used_at"`
	NodeID    *int64     `json:"node_id"` // the node it created
	RevokedAt *time.Time `json:"revoked_at"`
}

func (s *Service) enrollmentView(t store.EnrollmentToken) EnrollmentTokenView {
	v := EnrollmentTokenView{
		ID: t.ID, Prefix: t.Prefix, Name: t.Name, Labels: t.Labels, IPPool: prefixString(t.IPPool),
		State: string(t.State(s.now())), CreatedBy: t.CreatedBy, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt,
	}
	if v.Labels == nil {
		v.Labels = labels.Set{}
	}
	if !t.UsedAt.IsZero() {
		v.UsedAt, v.NodeID = &t.UsedAt, &t.NodeID
	}
	if !t.RevokedAt.IsZero() {
		v.RevokedAt = &t.RevokedAt
	}
	return v
}

// CreateEnrollmentToken validates in and stores a new join token that pins
// the controller certificate pin (zero for none). The token is returned
// once and never stored: only the hash of its secret is.
func (s *Service) CreateEnrollmentToken(ctx context.Context, actor Actor, in EnrollmentTokenInput, pin agentapi.Fingerprint) (agentapi.JoinToken, EnrollmentTokenView, error) {
	if err := checkActor(actor); err != nil {
		return agentapi.JoinToken{}, EnrollmentTokenView{}, err
	}
	t, err := enrollmentFromInput(in, s.now())
	if err != nil {
		return agentapi.JoinToken{}, EnrollmentTokenView{}, err
	}
	tok, err := agentapi.NewJoinToken(pin)
	if err != nil {
		return agentapi.JoinToken{}, EnrollmentTokenView{}, err
	}
	t.Hash, t.Prefix, t.CreatedBy = store.HashToken(tok.Secret), tok.Display(), string(actor)
	err = s.store.InTx(ctx, func(tx *store.Tx) error {
		var err error
		if t, err = tx.CreateEnrollmentToken(ctx, t); err != nil {
			return err
		}
		return audit(ctx, tx, actor, "enrollment_token.create", "enrollment_token", t.ID, map[string]any{
			"name": t.Name, "prefix": t.Prefix, "labels": t.Labels, "ip_pool_cidr": prefixString(t.IPPool),
			"expires_at": t.ExpiresAt.UTC().Format(time.RFC3339), "pinned": tok.HasPin(),
		})
	})
	if err != nil {
		return agentapi.JoinToken{}, EnrollmentTokenView{}, fmt.Errorf("creating enrollment token: %w", err)
	}
	s.log.Info("enrollment token created", "id", t.ID, "prefix", t.Prefix, "actor", string(actor))
	return tok, s.enrollmentView(t), nil
}

// enrollmentFromInput checks in field by field (*ValidationError).
func enrollmentFromInput(in EnrollmentTokenInput, now time.Time) (store.EnrollmentToken, error) {
	var t store.EnrollmentToken
	name, err := checkName("name", deref(in.Name), false)
	if err != nil {
		return t, err
	}
	t.Name = name
	if err := labels.Check(in.Labels); err != nil {
		return t, Invalid("labels", "%v", err)
	}
	if len(in.Labels) > 0 {
		t.Labels = in.Labels.Clone()
	}
	ttl := DefaultJoinTTL
	if e := strings.TrimSpace(deref(in.ExpiresIn)); e != "" {
		d, err := time.ParseDuration(e)
		if err != nil || d < MinJoinTTL || d > MaxJoinTTL {
			return t, Invalid("expires_in", "must be a duration from %v to %v, such as \"1h\"", MinJoinTTL, MaxJoinTTL)
		}
		ttl = d
	}
	t.ExpiresAt = now.Add(ttl).Truncate(time.Second)
	if p := strings.TrimSpace(deref(in.IPPool)); p != "" {
		if t.IPPool, err = checkPool("ip_pool_cidr", p, false); err != nil {
			return t, err
		}
	}
	return t, nil
}

// ListEnrollmentTokens returns every join token, in id order.
func (s *Service) ListEnrollmentTokens(ctx context.Context) ([]EnrollmentTokenView, error) {
	toks, err := s.store.ListEnrollmentTokens(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]EnrollmentTokenView, 0, len(toks))
	for _, t := range toks {
		out = append(out, s.enrollmentView(t))
	}
	return out, nil
}

// RevokeEnrollmentToken revokes a join token at once; an unknown id gives
// store.ErrEnrollmentTokenNotFound.
func (s *Service) RevokeEnrollmentToken(ctx context.Context, actor Actor, id int64) error {
	if err := checkActor(actor); err != nil {
		return err
	}
	err := s.store.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.RevokeEnrollmentToken(ctx, id); err != nil {
			return err
		}
		return audit(ctx, tx, actor, "enrollment_token.revoke", "enrollment_token", id, nil)
	})
	if err != nil {
		return fmt.Errorf("revoking enrollment token: %w", err)
	}
	s.log.Info("enrollment token revoked", "id", id, "actor", string(actor))
	return nil
}

// Enroll creates the node an agent asks for with a join token, and uses
// the token up, in one transaction: a token that is unknown, used,
// revoked or expired gives ErrEnrollRefused and creates nothing, and of
// two agents racing with one token exactly one gets a node. The node is
// named by the token or else after the agent, gets the token's labels and
// pool, or a pool carved from the configured supernet, and is enabled.
func (s *Service) Enroll(ctx context.Context, req agentapi.EnrollRequest) (agentapi.EnrollResponse, error) {
	tok, err := agentapi.ParseJoinToken(req.Token)
	if err != nil {
		return agentapi.EnrollResponse{}, fmt.Errorf("%w: %v", ErrEnrollRefused, err)
	}
	key, err := agentapi.ParseKey(req.PublicKey)
	if err != nil {
		return agentapi.EnrollResponse{}, Invalid("public_key", "is not a WireGuard public key (44 characters of base64)")
	}
	fp, err := agentapi.ParseFingerprint(req.TLSFingerprint)
	if err != nil {
		return agentapi.EnrollResponse{}, Invalid("tls_fingerprint", "%v", err)
	}
	in := NodeInput{
		AgentURL: &req.AgentURL, Secret: &req.Secret, WGInterface: &req.WGInterface, Endpoint: &req.Endpoint,
	}
	if strings.TrimSpace(req.WGInterface) == "" {
		return agentapi.EnrollResponse{}, Invalid("wg_interface", "is required")
	}
	if strings.TrimSpace(req.Endpoint) == "" {
		return agentapi.EnrollResponse{}, Invalid("endpoint", "is required: host:port that clients dial")
	}
	actor := Actor("enroll")
	var (
		node store.Node
		used store.EnrollmentToken
	)
	err = s.store.InTx(ctx, func(tx *store.Tx) error {
		t, err := tx.LookupEnrollmentToken(ctx, store.HashToken(tok.Secret))
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w: unknown join token", ErrEnrollRefused)
		}
		if err != nil {
			return err
		}
		switch t.State(s.now()) {
		case store.EnrollmentUsed:
			return fmt.Errorf("%w: this join token was already used (by node %d); make a new one", ErrEnrollRefused, t.NodeID)
		case store.EnrollmentRevoked:
			return fmt.Errorf("%w: this join token was revoked", ErrEnrollRefused)
		case store.EnrollmentExpired:
			return fmt.Errorf("%w: this join token expired at %s", ErrEnrollRefused, t.ExpiresAt.UTC().Format(time.RFC3339))
		}
		actor = Actor("enroll:" + t.Prefix)
		name := t.Name
		if name == "" {
			name = req.Name
		}
		in.Name = &name
		in.Labels = t.Labels
		pool := t.IPPool
		if !pool.IsValid() {
			nodes, err := tx.ListNodes(ctx)
			if err != nil {
				return err
			}
			taken := make([]netip.Prefix, 0, len(nodes))
			for _, n := range nodes {
				taken = append(taken, n.IPPool)
			}
			if pool, err = ipam.CarvePool4(s.poolSupernet, s.poolBits, taken); err != nil {
				return fmt.Errorf("carving a pool for the node: %w", err)
			}
		}
		poolText := pool.String()
		in.IPPool = &poolText
		n, _, err := nodeFromInput(store.Node{}, in, true)
		if err != nil {
			return err
		}
		if !fp.IsZero() && !strings.HasPrefix(n.AgentURL, "https://") {
			return Invalid("tls_fingerprint", "is given for an agent URL that is not https")
		}
		n.TLSFingerprint = fp
		if node, err = tx.CreateNode(ctx, n); err != nil {
			return err
		}
		if err := tx.SetNodeServerKey(ctx, node.ID, key); err != nil {
			return err
		}
		if err := tx.UseEnrollmentToken(ctx, t.ID, node.ID); errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("%w: this join token was just used by another agent", ErrEnrollRefused)
		} else if err != nil {
			return err
		}
		used = t
		if _, err := tx.BumpGeneration(ctx, node.ID); err != nil {
			return err
		}
		details := nodeAudit(node)
		details["enrollment_token_id"] = t.ID
		if err := audit(ctx, tx, actor, "node.enroll", "node", node.ID, details); err != nil {
			return err
		}
		return audit(ctx, tx, actor, "enrollment_token.use", "enrollment_token", t.ID, map[string]any{"node_id": node.ID})
	})
	if err != nil {
		return agentapi.EnrollResponse{}, fmt.Errorf("enrolling node: %w", err)
	}
	s.log.Info("node enrolled", "node_id", node.ID, "name", node.Name, "token_id", used.ID, "agent_url", node.AgentURL)
	s.trigger(node.ID)
	s.watch(node.ID)
	return agentapi.EnrollResponse{
		NodeID: node.ID, Name: node.Name, IPPool: node.IPPool.String(),
		Address: netip.PrefixFrom(ipam.InterfaceAddr(node.IPPool), node.IPPool.Bits()).String(),
	}, nil
}
