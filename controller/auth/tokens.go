package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/wgfleet/wgfleet/controller/store"
)

// API token format: TokenPrefix and 32 random bytes in base64url, e.g.
// "wgf_3q2-7w...". The first tokenDisplayLen characters are stored in
// clear to recognise a token in a list; 8 characters of base64 are 48 of
// its 256 random bits.
const (
	TokenPrefix      = "wgf_"
	tokenRandomBytes = 32
	tokenDisplayLen  = len(TokenPrefix) + 8
	maxTokenNameLen  = 64
)

// Bounds of an API token's lifetime (CreateToken's ttl), when it has one.
const (
	MinTokenTTL = time.Minute
	MaxTokenTTL = 10 * 365 * 24 * time.Hour
)

// CreateToken makes an admin API token of nobody in particular (for the
// command line and the system): CreateTokenWithRole with RoleAdmin.
func (a *Authenticator) CreateToken(ctx context.Context, actor, name string, ttl time.Duration) (string, store.APIToken, error) {
	return a.createToken(ctx, actor, name, ttl, RoleAdmin, 0)
}

// CreateTokenWithRole makes an API token named name with role role that
// expires ttl from now (0: never; otherwise MinTokenTTL to MaxTokenTTL),
// stores its hash and records the change in the audit log under actor
// ("cli" or "system"). The plaintext token is returned once and is never
// stored. A token a user makes is made with CreateTokenFor.
func (a *Authenticator) CreateTokenWithRole(ctx context.Context, actor, name string, ttl time.Duration, role Role) (string, store.APIToken, error) {
	return a.createToken(ctx, actor, name, ttl, role, 0)
}

// CreateTokenFor makes an API token as CreateTokenWithRole does, for the
// signed-in user p: only a user with a session may (an API token may not:
// Principal.MayCreateTokens), role "" means p's own role, and a role above
// p's gives ErrForbidden. The token remembers p, so that it never
// outranks p: lowering p's role lowers it, deleting p revokes it.
func (a *Authenticator) CreateTokenFor(ctx context.Context, p Principal, name string, ttl time.Duration, role Role) (string, store.APIToken, error) {
	if err := p.MayCreateTokens(); err != nil {
		return "", store.APIToken{}, err
	}
	if role == "" {
		role = p.Role
	}
	if !role.Valid() {
		return "", store.APIToken{}, fmt.Errorf("%w: role must be admin, operator or viewer, not %q", ErrInvalid, role)
	}
	if !p.Role.AtLeast(role) {
		return "", store.APIToken{}, fmt.Errorf("%w: a %s may not make a token with role %s", ErrForbidden, p.Role, role)
	}
	return a.createToken(ctx, p.Actor(), name, ttl, role, p.UserID)
}

func (a *Authenticator) createToken(ctx context.Context, actor, name string, ttl time.Duration, role Role, userID int64) (string, store.APIToken, error) {
	if !role.Valid() {
		return "", store.APIToken{}, fmt.Errorf("%w: role must be admin, operator or viewer, not %q", ErrInvalid, role)
	}
	name = strings.TrimSpace(name)
	if err := checkTokenName(name); err != nil {
		return "", store.APIToken{}, err
	}
	var expires time.Time
	if ttl != 0 {
		if ttl < MinTokenTTL || ttl > MaxTokenTTL {
			return "", store.APIToken{}, fmt.Errorf("%w: a token's lifetime must be from %v to %v, or none", ErrInvalid, MinTokenTTL, MaxTokenTTL)
		}
		expires = a.now().Add(ttl).Truncate(time.Second)
	}
	random, err := randomString(tokenRandomBytes)
	if err != nil {
		return "", store.APIToken{}, fmt.Errorf("creating api token: %w", err)
	}
	token := TokenPrefix + random
	var tok store.APIToken
	err = a.store.InTx(ctx, func(tx *store.Tx) error {
		var err error
		tok, err = tx.CreateAPITokenWith(ctx, store.APIToken{
			Name: name, Hash: store.HashToken(token), Prefix: token[:tokenDisplayLen], ExpiresAt: expires,
			Role: string(role), UserID: userID,
		})
		if err != nil {
			return err
		}
		details := map[string]string{"name": tok.Name, "prefix": tok.Prefix, "role": tok.Role}
		if !expires.IsZero() {
			details["expires_at"] = expires.UTC().Format(time.RFC3339)
		}
		return appendAudit(ctx, tx, actor, "token.create", tok.ID, details)
	})
	if err != nil {
		return "", store.APIToken{}, fmt.Errorf("creating api token: %w", err)
	}
	a.log.Info("api token created", "actor", actor, "id", tok.ID, "name", tok.Name, "role", tok.Role)
	return token, tok, nil
}

// ListTokens returns every API token, revoked ones included, without
// anything that could be used to authenticate.
func (a *Authenticator) ListTokens(ctx context.Context) ([]store.APIToken, error) {
	toks, err := a.store.ListAPITokens(ctx)
	if err != nil {
		return nil, err
	}
	for i := range toks {
		toks[i].Hash = store.TokenHash{}
	}
	return toks, nil
}

// RevokeToken revokes the API token with the given id, at once for every
// later request, and records it in the audit log under actor. Revoking a
// revoked token succeeds; an unknown id gives store.ErrAPITokenNotFound.
func (a *Authenticator) RevokeToken(ctx context.Context, actor string, id int64) error {
	err := a.store.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.RevokeAPIToken(ctx, id); err != nil {
			return err
		}
		return appendAudit(ctx, tx, actor, "token.revoke", id, nil)
	})
	if err != nil {
		return fmt.Errorf("revoking api token: %w", err)
	}
	a.log.Info("api token revoked", "actor", actor, "id", id)
	return nil
}

// token returns the principal of an unrevoked, unexpired API token and
// notes its use.
func (a *Authenticator) token(ctx context.Context, token string) (Principal, error) {
	tok, err := a.store.LookupAPIToken(ctx, store.HashToken(token))
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, unauthenticated("unknown or revoked API token")
	}
	if err != nil {
		return Principal{}, fmt.Errorf("looking up api token: %w", err)
	}
	if !tok.ExpiresAt.IsZero() && !a.now().Before(tok.ExpiresAt) {
		return Principal{}, unauthenticated("API token expired")
	}
	a.touch(ctx, tok.ID)
	return Principal{Kind: KindToken, Name: tok.Name, Role: Role(tok.Role), UserID: tok.UserID, TokenID: tok.ID}, nil
}

// touch records a token's use, writing at most once per
// tokenTouchInterval per token. A failed write is logged, not returned: it
// must not fail the request.
func (a *Authenticator) touch(ctx context.Context, id int64) {
	now := a.now()
	a.touchMu.Lock()
	last, ok := a.touched[id]
	if ok && now.Sub(last) < tokenTouchInterval {
		a.touchMu.Unlock()
		return
	}
	if len(a.touched) >= maxTouchEntries {
		clear(a.touched)
	}
	a.touched[id] = now
	a.touchMu.Unlock()
	if err := a.store.TouchAPIToken(ctx, id); err != nil {
		a.log.Warn("recording api token use", "id", id, "err", err)
	}
}

func checkTokenName(name string) error {
	if name == "" || utf8.RuneCountInString(name) > maxTokenNameLen {
		return fmt.Errorf("%w: token name must be 1 to %d characters", ErrInvalid, maxTokenNameLen)
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("%w: token name must be printable characters", ErrInvalid)
		}
	}
	return nil
}

// appendAudit writes one audit entry about an API token or user.
func appendAudit(ctx context.Context, tx *store.Tx, actor, action string, id int64, details map[string]string) error {
	e := store.AuditEntry{Actor: actor, Action: action, TargetID: strconv.FormatInt(id, 10)}
	e.TargetType, _, _ = strings.Cut(action, ".")
	if details != nil {
		b, err := json.Marshal(details)
		if err != nil {
			return fmt.Errorf("encoding audit details: %w", err)
		}
		e.Details = b
	}
	if _, err := tx.AppendAudit(ctx, e); err != nil {
		return err
	}
	return nil
}
