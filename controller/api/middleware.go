package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/wgfleet/wgfleet/controller/auth"
)

// contentSecurityPolicy allows the page's own origin only: no inline
// script, no framing, no plugins.
const contentSecurityPolicy = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"

// securityHeaders sets the headers every answer carries, the UI's too.
func (s *server) securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Content-Security-Policy", contentSecurityPolicy)
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.ServeHTTP(w, r)
	})
}

// requestInfo collects, for the request log line, what handlers learn
// while serving: who the caller turned out to be.
type requestInfo struct {
	principal string
}

type requestInfoKey struct{}

type principalKey struct{}

// statusRecorder remembers the status an answer was sent with.
type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if !s.wrote {
		s.status, s.wrote = http.StatusOK, true
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// logPath is a request's path as the log shows it: a share link's token
// is a credential, so /share/TOKEN is logged as /share/[redacted].
func logPath(p string) string {
	if strings.HasPrefix(p, SharePathPrefix) {
		return SharePathPrefix + "[redacted]"
	}
	return p
}

// logRequests logs one line per request: method, path (never the query),
// status, duration and who asked. Never headers, bodies or cookies, which
// carry passwords, tokens and keys. A panic in a handler is answered 500
// and logged with its stack.
func (s *server) logRequests(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &requestInfo{}
		r = r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, info))
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("panic serving request", "method", r.Method, "path", logPath(r.URL.Path),
					"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				if !rec.wrote {
					s.fail(rec, r, errors.New("panic"))
				}
			}
			level := slog.LevelInfo
			if r.URL.Path == "/healthz" {
				level = slog.LevelDebug
			}
			s.log.Log(r.Context(), level, "request", "method", r.Method, "path", logPath(r.URL.Path),
				"status", rec.status, "duration", time.Since(start), "principal", info.principal)
		}()
		h.ServeHTTP(rec, r)
	})
}

// authed lets only authenticated requests through to h, of those that
// authenticated with the session cookie only the ones that carry its CSRF
// token when they may change something, and of those only the ones whose
// principal has role min or above (403 otherwise).
func (s *server) authed(min auth.Role, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.auth.Authenticate(r)
		if err != nil {
			if errors.Is(err, auth.ErrUnauthenticated) && hasSessionCookie(r) {
				s.clearSessionCookie(w)
			}
			s.fail(w, r, err)
			return
		}
		if info, ok := r.Context().Value(requestInfoKey{}).(*requestInfo); ok {
			info.principal = p.Actor()
		}
		if !safeMethod(r.Method) {
			if err := p.CheckCSRF(r.Header.Get("X-CSRF-Token")); err != nil {
				s.fail(w, r, err)
				return
			}
		}
		if err := p.Require(min); err != nil {
			s.fail(w, r, err)
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

// principal is who makes r; only valid inside authed handlers.
func principal(r *http.Request) auth.Principal {
	p, _ := r.Context().Value(principalKey{}).(auth.Principal)
	return p
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}
