package auth

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/controller/store"
	"github.com/wgfleet/wgfleet/controller/store/storetest"
	"github.com/wgfleet/wgfleet/internal/testenv"
)

type harness struct {
	st    *store.Store
	auth  *Authenticator
	clock *testenv.Clock
	logs  *testenv.LogBuffer
}

const testPassword = "correct horse battery staple"

// newHarness opens a store with user "alice" (password testPassword) and
// an Authenticator over it that logs to a buffer.
func newHarness(t testing.TB, cfg Config) *harness {
	t.Helper()
	h := &harness{st: storetest.Open(t), clock: testenv.NewClock(time.Now()), logs: &testenv.LogBuffer{}}
	hash, err := HashPassword(testPassword)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.st.CreateUser(context.Background(), "alice", hash); err != nil {
		t.Fatal(err)
	}
	cfg.Store = h.st
	cfg.Now = h.clock.Now
	cfg.Logger = slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if h.auth, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	return h
}

// request is a GET with the given headers and optional session cookie.
func request(cookie string, headers ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/api/me", nil)
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	if cookie != "" {
		r.AddCookie(&http.Cookie{Name: SessionCookieName, Value: cookie})
	}
	return r
}
