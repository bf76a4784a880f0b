package agent

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"time"
)

// maxBody bounds every request body.
const maxBody = 1 << 20

// signed reads the body (bounded), verifies the request's signature and
// only then calls h, with the body readable again.
func (a *Agent) signed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				writeError(w, &kindError{errTooLarge, "request body exceeds 1 MiB"})
				return
			}
			writeError(w, badRequestf("reading request body: %v", err))
			return
		}
		if err := a.verifier.Verify(r, body); err != nil {
			a.log.Warn("rejected request", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr, "reason", err.Error())
			if cause := errors.Unwrap(err); cause != nil {
				a.log.Error("recording an accepted request failed", "err", cause)
			}
			writeError(w, err)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		h(w, r)
	}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// logRequests logs one line per request: never headers or bodies, which
// carry signatures and keys.
func (a *Agent) logRequests(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(rec, r)
		a.log.Debug("request", "method", r.Method, "path", r.URL.Path, "status", rec.status,
			"duration", time.Since(start), "remote", r.RemoteAddr)
	})
}
