package auth

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/controller/secretbox"
	"github.com/wgfleet/wgfleet/controller/store"
)

// clock is a settable time source. It starts at the wall clock because
// the store checks session expiry against the wall clock too.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func openStore(t testing.TB) *store.Store {
	t.Helper()
	box, err := secretbox.New(bytes.Repeat([]byte{7}, secretbox.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "controller.db"), box)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

type harness struct {
	st    *store.Store
	auth  *Authenticator
	clock *clock
	logs  *syncBuffer
}

const testPassword = "correct horse battery staple"

// newHarness opens a store with user "alice" (password testPassword) and
// an Authenticator over it that logs to a buffer.
func newHarness(t testing.TB, cfg Config) *harness {
	t.Helper()
	h := &harness{st: openStore(t), clock: newClock(), logs: &syncBuffer{}}
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
