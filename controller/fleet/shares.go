package fleet

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wgfleet/wgfleet/controller/store"
	"github.com/wgfleet/wgfleet/controller/wgconfig"
)

// Share link lifetimes: DefaultShareTTL when none is asked for, and the
// bounds of what may be asked.
const (
	DefaultShareTTL = 24 * time.Hour
	MinShareTTL     = time.Minute
	MaxShareTTL     = 30 * 24 * time.Hour
)

// sharePrefix starts every share token, so one found in the wild is
// recognised (and told from an API token, "wgf_").
const sharePrefix = "wgs_"

// shareTokenBytes is the randomness of a share token: 256 bits, shown as
// 43 base64url characters after the prefix.
const shareTokenBytes = 32

// ShareInput is the body of POST /api/peers/{id}/share. A nil field is
// "not given".
type ShareInput struct {
	// ExpiresIn is the link's lifetime, a Go duration ("24h"), from
	// MinShareTTL to MaxShareTTL; nil or "" is DefaultShareTTL. Every link
	// expires.
	ExpiresIn *string `json:"expires_in"`
	// OneTime makes the link work once; nil is false.
	OneTime *bool `json:"one_time"`
}

// ShareView is a share link as the API shows it: never its token.
type ShareView struct {
	ID         int64      `json:"id"`
	PeerID     int64      `json:"peer_id"`
	OneTime    bool       `json:"one_time"`
	State      string     `json:"state"` // active, used, expired or revoked
	CreatedBy  string     `json:"created_by"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
	UsedCount  int64      `json:"used_count"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

func (s *Service) shareView(sh store.Share) ShareView {
	v := ShareView{
		ID: sh.ID, PeerID: sh.PeerID, OneTime: sh.OneTime, State: string(sh.State(s.now())),
		CreatedBy: sh.CreatedBy, CreatedAt: sh.CreatedAt, ExpiresAt: sh.ExpiresAt, UsedCount: sh.UsedCount,
	}
	if !sh.RevokedAt.IsZero() {
		v.RevokedAt = &sh.RevokedAt
	}
	if !sh.LastUsedAt.IsZero() {
		v.LastUsedAt = &sh.LastUsedAt
	}
	return v
}

// SharedConfig is what an opened share link hands out: the peer's client
// config, its file name and its QR code.
type SharedConfig struct {
	ShareID   int64
	PeerName  string
	FileName  string
	Config    []byte // wg-quick text, with the client's private key
	QRPNG     []byte
	OneTime   bool
	ExpiresAt time.Time
}

// parseShareTTL reads ShareInput.ExpiresIn.
func parseShareTTL(in *string) (time.Duration, error) {
	if in == nil || strings.TrimSpace(*in) == "" {
		return DefaultShareTTL, nil
	}
	ttl, err := time.ParseDuration(strings.TrimSpace(*in))
	if err != nil || ttl < MinShareTTL || ttl > MaxShareTTL {
		return 0, Invalid("expires_in", "must be a duration from %s to %s, such as \"24h\"", MinShareTTL, "720h")
	}
	return ttl, nil
}

// newShareToken returns a fresh share token.
func newShareToken() (string, error) {
	b := make([]byte, shareTokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("making share token: %w", err)
	}
	return sharePrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// wellFormedShareToken reports whether token can be one newShareToken
// made, so that junk is refused without a database lookup.
func wellFormedShareToken(token string) bool {
	rest, ok := strings.CutPrefix(token, sharePrefix)
	if !ok || len(rest) != base64.RawURLEncoding.EncodedLen(shareTokenBytes) {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(rest)
	return err == nil
}

// CreateShare makes a share link for a peer whose config the controller
// can hand out (it made the key pair) and returns its token, shown only
// this once: the store keeps its SHA-256. Errors: *ValidationError
// (expires_in; private_key for a peer whose owner holds its key),
// store.ErrPeerNotFound.
func (s *Service) CreateShare(ctx context.Context, actor Actor, peerID int64, in ShareInput) (string, ShareView, error) {
	if err := checkActor(actor); err != nil {
		return "", ShareView{}, err
	}
	ttl, err := parseShareTTL(in.ExpiresIn)
	if err != nil {
		return "", ShareView{}, err
	}
	token, err := newShareToken()
	if err != nil {
		return "", ShareView{}, err
	}
	var created store.Share
	err = s.store.InTx(ctx, func(tx *store.Tx) error {
		p, err := tx.GetPeer(ctx, peerID)
		if err != nil {
			return err
		}
		if p.PrivateKey == nil {
			return Invalid("private_key", "this peer's private key is held by its owner; there is no config to share")
		}
		created, err = tx.CreateShare(ctx, store.Share{
			PeerID: peerID, Hash: store.HashToken(token), OneTime: in.OneTime != nil && *in.OneTime,
			CreatedBy: string(actor), ExpiresAt: s.now().Add(ttl),
		})
		if err != nil {
			return err
		}
		return audit(ctx, tx, actor, "share.create", "share", created.ID, map[string]any{
			"peer_id": peerID, "peer_name": p.Name, "one_time": created.OneTime, "expires_at": created.ExpiresAt,
		})
	})
	if err != nil {
		return "", ShareView{}, fmt.Errorf("sharing peer %d: %w", peerID, err)
	}
	s.log.Info("share link created", "share_id", created.ID, "peer_id", peerID, "one_time", created.OneTime,
		"expires_at", created.ExpiresAt, "actor", string(actor))
	return token, s.shareView(created), nil
}

// ListShares returns a peer's share links, newest first, dead ones
// included; store.ErrPeerNotFound for an unknown peer.
func (s *Service) ListShares(ctx context.Context, peerID int64) ([]ShareView, error) {
	var list []store.Share
	err := s.store.View(ctx, func(tx *store.Tx) error {
		if _, err := tx.GetPeer(ctx, peerID); err != nil {
			return err
		}
		var err error
		list, err = tx.ListShares(ctx, peerID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listing share links of peer %d: %w", peerID, err)
	}
	out := make([]ShareView, len(list))
	for i, sh := range list {
		out[i] = s.shareView(sh)
	}
	return out, nil
}

// RevokeShare kills a share link at once; revoking it again changes
// nothing. store.ErrShareNotFound for an unknown id.
func (s *Service) RevokeShare(ctx context.Context, actor Actor, id int64) (ShareView, error) {
	if err := checkActor(actor); err != nil {
		return ShareView{}, err
	}
	var sh store.Share
	err := s.store.InTx(ctx, func(tx *store.Tx) error {
		old, err := tx.GetShare(ctx, id)
		if err != nil {
			return err
		}
		if sh, err = tx.RevokeShare(ctx, id); err != nil {
			return err
		}
		if !old.RevokedAt.IsZero() {
			return nil
		}
		return audit(ctx, tx, actor, "share.revoke", "share", id, map[string]any{"peer_id": sh.PeerID})
	})
	if err != nil {
		return ShareView{}, fmt.Errorf("revoking share link %d: %w", id, err)
	}
	s.log.Info("share link revoked", "share_id", id, "peer_id", sh.PeerID, "actor", string(actor))
	return s.shareView(sh), nil
}

// lookupShare finds the link of token: store.ErrShareNotFound for a
// token no link has (or that is not even well formed), an error wrapping
// store.ErrShareGone that says why for a dead one.
func (s *Service) lookupShare(ctx context.Context, token string) (store.Share, error) {
	if !wellFormedShareToken(token) {
		return store.Share{}, store.ErrShareNotFound
	}
	var sh store.Share
	err := s.store.InTx(ctx, func(tx *store.Tx) error {
		var err error
		sh, err = tx.LookupShare(ctx, store.HashToken(token))
		return err
	})
	if err != nil {
		return store.Share{}, err
	}
	if st := sh.State(s.now()); st != store.ShareActive {
		return store.Share{}, fmt.Errorf("%w: it is %s", store.ErrShareGone, st)
	}
	return sh, nil
}

// CheckShare tells whether token opens a link now, changing nothing: nil,
// store.ErrShareNotFound, or an error wrapping store.ErrShareGone.
func (s *Service) CheckShare(ctx context.Context, token string) error {
	_, err := s.lookupShare(ctx, token)
	return err
}

// OpenShare hands out the config a share link stands for, to whoever
// holds its token (client is their address, for the audit log). The
// config and its QR code are made first; then one conditional write
// records the use, so of concurrent opens of a one-time link exactly one
// gets the config and the others get store.ErrShareGone; a config that
// cannot be made (the node's key unknown, no endpoint) uses nothing up.
// The use is audited as "share.use".
func (s *Service) OpenShare(ctx context.Context, token, client string) (SharedConfig, error) {
	sh, err := s.lookupShare(ctx, token)
	if err != nil {
		return SharedConfig{}, err
	}
	p, conf, err := s.clientConfig(ctx, sh.PeerID)
	if err != nil {
		return SharedConfig{}, fmt.Errorf("opening share link %d: %w", sh.ID, err)
	}
	png, err := wgconfig.QRPNG(conf, 0)
	if err != nil {
		return SharedConfig{}, fmt.Errorf("opening share link %d: QR code: %w", sh.ID, err)
	}
	actor := Actor("share:" + strconv.FormatInt(sh.ID, 10))
	err = s.store.InTx(ctx, func(tx *store.Tx) error {
		used, err := tx.UseShare(ctx, sh.ID)
		if err != nil {
			return err
		}
		return audit(ctx, tx, actor, "share.use", "share", sh.ID, map[string]any{
			"peer_id": sh.PeerID, "one_time": used.OneTime, "uses": used.UsedCount, "client": client,
		})
	})
	if err != nil {
		return SharedConfig{}, fmt.Errorf("opening share link %d: %w", sh.ID, err)
	}
	s.log.Info("share link used", "share_id", sh.ID, "peer_id", sh.PeerID, "one_time", sh.OneTime)
	return SharedConfig{
		ShareID: sh.ID, PeerName: p.Name, FileName: wgconfig.FileName(p.Name, p.ID), Config: conf, QRPNG: png,
		OneTime: sh.OneTime, ExpiresAt: sh.ExpiresAt,
	}, nil
}
