package api

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/auth"
	"github.com/wgfleet/wgfleet/controller/fleet"
	"github.com/wgfleet/wgfleet/controller/store"
	"github.com/wgfleet/wgfleet/controller/ui"
	"github.com/wgfleet/wgfleet/controller/wgconfig"
	"github.com/wgfleet/wgfleet/internal/testenv"
)

// newShare makes a share link of peer through the API and returns it with
// its token.
func newShare(t *testing.T, c *client, peerID int64, body map[string]any) (newShareView, string) {
	t.Helper()
	var v newShareView
	r := c.do(t, "POST", fmt.Sprintf("/api/peers/%d/share", peerID), body).want(t, 201)
	r.decode(t, &v)
	prefix := c.e.srv.URL + SharePathPrefix
	token, ok := strings.CutPrefix(v.URL, prefix)
	if !ok || !strings.HasPrefix(token, "wgs_") || len(token) != 47 {
		t.Fatalf("share url %q: want %s followed by a wgs_ token", v.URL, prefix)
	}
	return v, token
}

// openShare asks for the config of token as anyone does: no credentials.
func openShare(t *testing.T, e *env, token string) resp {
	t.Helper()
	return e.anon().do(t, "POST", "/api/share/open", map[string]string{"token": token})
}

// sharePage GETs the page of token without credentials.
func sharePage(t *testing.T, e *env, token string) resp {
	t.Helper()
	return e.anon().do(t, "GET", SharePathPrefix+token, nil)
}

// TestShareLinks: a real store, a real agent (for the node's public key)
// and real HTTP. A one-time link opens once and is 410 after, a link dies
// when revoked or expired, the token is stored only hashed, every
// creation, use and revocation is audited, and no token reaches the log.
func TestShareLinks(t *testing.T) {
	e := newEnv(t, envOptions{ui: ui.Handler()})
	c := e.login(t)
	ctx := context.Background()
	a := agenttest.Start(t, agenttest.Options{})
	n := createNode(t, c, "edge-1", a, "10.97.0.0/24")
	p := createPeer(t, c, n.ID, map[string]any{"name": "phone", "preshared_key": "auto"})
	sp, err := e.st.GetPeer(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	var tokens []string

	// A one-time link.
	before := time.Now().Truncate(time.Second)
	once, token := newShare(t, c, p.ID, map[string]any{"expires_in": "1h", "one_time": true})
	checkExpiry(t, "expires_in 1h", once.ExpiresAt, before, time.Now(), time.Hour)
	tokens = append(tokens, token)
	testenv.Equal(t, "one_time", once.OneTime, true)
	testenv.Equal(t, "state", once.State, "active")
	testenv.Equal(t, "peer_id", once.PeerID, p.ID)
	// The page works before the link is used, and looking at it uses
	// nothing up.
	for range 2 {
		r := sharePage(t, e, token).want(t, 200)
		if cc := r.header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("share page Cache-Control %q, want no-store", cc)
		}
		if !bytes.Contains(r.body, []byte("share.js")) {
			t.Errorf("share page is not the UI's share page: %.200s", r.body)
		}
	}
	// The first open hands out the config and its QR code.
	var got sharedConfigView
	openShare(t, e, token).want(t, 200).decode(t, &got)
	conf, err := wgconfig.Parse([]byte(got.Config))
	if err != nil {
		t.Fatalf("shared config does not parse: %v", err)
	}
	if conf.PrivateKey != *sp.PrivateKey {
		t.Error("shared config's private key is not the peer's")
	}
	testenv.Equal(t, "peer_name", got.PeerName, "phone")
	testenv.Equal(t, "file_name", got.FileName, wgconfig.FileName("phone", p.ID))
	if img, err := png.Decode(bytes.NewReader(got.QRPNG)); err != nil || img.Bounds().Dx() < 100 {
		t.Errorf("qr_png is no QR image: %v", err)
	}
	// Then it is gone: the API and the page say 410.
	r := openShare(t, e, token).want(t, 410)
	if !strings.Contains(r.msg(), "used") {
		t.Errorf("second open: message %q, want it to say the link is used", r.msg())
	}
	sharePage(t, e, token).want(t, 410)

	// A link for several uses, then revoked.
	before = time.Now().Truncate(time.Second)
	multi, token2 := newShare(t, c, p.ID, map[string]any{})
	checkExpiry(t, "default expiry", multi.ExpiresAt, before, time.Now(), 24*time.Hour)
	tokens = append(tokens, token2)
	openShare(t, e, token2).want(t, 200)
	openShare(t, e, token2).want(t, 200)
	c.do(t, "DELETE", fmt.Sprintf("/api/shares/%d", multi.ID), nil).want(t, 200)
	openShare(t, e, token2).want(t, 410)
	sharePage(t, e, token2).want(t, 410)
	c.do(t, "DELETE", "/api/shares/999", nil).want(t, 404)

	// An expired link (made in the store, to expire in a second).
	token3 := "wgs_" + strings.Repeat("A", 43)
	tokens = append(tokens, token3)
	err = e.st.InTx(ctx, func(tx *store.Tx) error {
		_, err := tx.CreateShare(ctx, store.Share{PeerID: p.ID, Hash: store.HashToken(token3), CreatedBy: "test", ExpiresAt: time.Now().Add(time.Second)})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(2 * time.Second)))
	openShare(t, e, token3).want(t, 410)
	sharePage(t, e, token3).want(t, 410)

	// Unknown and malformed tokens.
	sharePage(t, e, "wgs_"+strings.Repeat("B", 43)).want(t, 404)
	sharePage(t, e, "nonsense").want(t, 404)
	openShare(t, e, "wgs_"+strings.Repeat("B", 43)).want(t, 404)
	e.anon().do(t, "POST", "/api/share/open", map[string]string{}).want(t, 400)
	e.anon().do(t, "POST", SharePathPrefix+token, nil).want(t, 405)

	// The peer's list: newest first, each in its state, no token.
	var list []fleet.ShareView
	r = c.do(t, "GET", fmt.Sprintf("/api/peers/%d/shares", p.ID), nil).want(t, 200)
	r.decode(t, &list)
	if len(list) != 3 {
		t.Fatalf("%d share links listed, want 3: %s", len(list), r.body)
	}
	testenv.Equal(t, "expired link state", list[0].State, "expired")
	testenv.Equal(t, "revoked link state", list[1].State, "revoked")
	testenv.Equal(t, "revoked link uses", list[1].UsedCount, int64(2))
	testenv.Equal(t, "used link state", list[2].State, "used")
	c.do(t, "GET", "/api/peers/999/shares", nil).want(t, 404)

	// A peer that holds its own key has no config to share.
	own := createPeer(t, c, n.ID, map[string]any{"name": "router", "public_key": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE="})
	if r := c.do(t, "POST", fmt.Sprintf("/api/peers/%d/share", own.ID), map[string]any{}).want(t, 400); r.field() != "private_key" {
		t.Errorf("own-key peer: field %q", r.field())
	}
	for _, bad := range []string{"1s", "721h", "soon", "-1h"} {
		if r := c.do(t, "POST", fmt.Sprintf("/api/peers/%d/share", p.ID), map[string]any{"expires_in": bad}).want(t, 400); r.field() != "expires_in" {
			t.Errorf("expires_in %q: field %q", bad, r.field())
		}
	}

	// Audited: two creations, three uses, one revocation.
	entries, err := e.st.ListAudit(ctx, store.AuditFilter{TargetType: "share", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string]int{}
	for _, en := range entries {
		actions[en.Action]++
	}
	testenv.DeepEqual(t, "share audit", actions, map[string]int{"share.create": 2, "share.use": 3, "share.revoke": 1})

	// No token in the log, in the database files or in any answer but the
	// one that made it; the log shows share pages redacted.
	logs := e.logs.String()
	if !strings.Contains(logs, "/share/[redacted]") {
		t.Error("the request log has no redacted share page line")
	}
	files, err := filepath.Glob(filepath.Join(e.dir, "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("the database files: %v, %v", files, err)
	}
	for _, tok := range tokens {
		if strings.Contains(logs, tok) || strings.Contains(logs, strings.TrimPrefix(tok, "wgs_")) {
			t.Errorf("the log holds share token %s", tok)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(b, []byte(tok)) {
				t.Errorf("%s holds share token %s", f, tok)
			}
		}
	}
}

// TestShareOneTimeRace: of many concurrent opens of a one-time link,
// exactly one gets the config.
func TestShareOneTimeRace(t *testing.T) {
	e := newEnv(t, envOptions{shareLimit: auth.NewLookupLimiter(1000, time.Minute, "share link lookups", nil)})
	c := e.login(t)
	a := agenttest.Start(t, agenttest.Options{})
	n := createNode(t, c, "edge-1", a, "10.96.0.0/24")
	p := createPeer(t, c, n.ID, map[string]any{"name": "phone"})
	_, token := newShare(t, c, p.ID, map[string]any{"one_time": true})
	const n2 = 12
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		statuses = map[int]int{}
	)
	for range n2 {
		wg.Go(func() {
			r := openShare(t, e, token)
			mu.Lock()
			statuses[r.status]++
			mu.Unlock()
		})
	}
	wg.Wait()
	testenv.DeepEqual(t, "statuses of concurrent opens", statuses, map[int]int{200: 1, 410: n2 - 1})
}

// TestShareLookupsRateLimited: lookups without credentials are bounded
// per client address, found or not, and the refusal says when to return.
func TestShareLookupsRateLimited(t *testing.T) {
	e := newEnv(t, envOptions{shareLimit: auth.NewLookupLimiter(3, time.Minute, "share link lookups", nil)})
	unknown := "wgs_" + strings.Repeat("C", 43)
	sharePage(t, e, unknown).want(t, 404)
	openShare(t, e, unknown).want(t, 404)
	sharePage(t, e, unknown).want(t, 404)
	for _, r := range []resp{sharePage(t, e, unknown), openShare(t, e, unknown)} {
		r.want(t, http.StatusTooManyRequests)
		if r.header.Get("Retry-After") == "" || !strings.Contains(r.msg(), "share link lookups") {
			t.Errorf("429 without Retry-After or reason: %q %q", r.header.Get("Retry-After"), r.msg())
		}
	}
	// Signed-in routes are not counted.
	e.login(t).do(t, "GET", "/api/peers", nil).want(t, 200)
}

// checkExpiry asserts that an expiry is d after the moment its link was made:
// between before+d and after+d, where before and after bracket the call (no
// fixed tolerance, so a slow machine cannot fail it; expiries are whole seconds).
func checkExpiry(t *testing.T, what string, got, before, after time.Time, d time.Duration) {
	t.Helper()
	if lo, hi := before.Add(d), after.Add(d+time.Second); got.Before(lo) || got.After(hi) {
		t.Errorf("%s: expires_at %s, want %s after the call: between %s and %s", what, got, d, lo, hi)
	}
}
