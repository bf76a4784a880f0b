package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/wgfleet/wgfleet/agent/agentapi"
)

// Bounds on requests whose signature is not checked yet.
const (
	// smallBody is the largest body read without taking from the shared
	// budget: MaxConnections of them at most are buffered at once.
	smallBody = 16 << 10
	// budgetWait is how long a request waits for budget before 503.
	budgetWait = time.Second
	// unauthBodyTimeout is how long a body has to arrive once its
	// headers passed: a slow sender holds budget no longer.
	unauthBodyTimeout = 5 * time.Second
	// bulkBodyTimeout is how long an authenticated bulk body has to
	// arrive; bulkAnswerTimeout how long its answer may take in all (a
	// replace-all of 65,536 peers computes as many Curve25519 shared
	// secrets on the device), instead of the server's WriteTimeout.
	bulkBodyTimeout   = 2 * time.Minute
	bulkAnswerTimeout = 5 * time.Minute
)

// signed checks the request's headers (timestamp window, signature
// format) before it reads a byte of the body, then reads the body within
// the shared budget of unauthenticated bytes, verifies the signature and
// only then calls h, with the body readable again. A request signed as
// bulk (agentapi.IsBulk) is refused: see signedBulk.
func (a *Agent) signed(h http.HandlerFunc) http.HandlerFunc {
	return a.signedBy(func(w http.ResponseWriter, r *http.Request, _ []byte) { h(w, r) })
}

// signedDeferred is signed for a handler whose only durable effect goes
// through its interface's committer: the request's record against
// replays (ticketOf) is written into the peer journal with its change, in
// the same write and fsync (replayTicket); if the change does not reach
// the journal, the record goes to the replay log before the answer. The
// answer is held back until the record is durable, and replaced by the
// refusal if that failed. The request is still on record against replays
// before anything of it is durable or answered.
func (a *Agent) signedDeferred(h http.HandlerFunc) http.HandlerFunc {
	return a.verified(func(w http.ResponseWriter, r *http.Request, _ []byte) { h(w, r) }, verifyDeferred)
}

// signedBulk is signed for the bulk routes: a request signed as bulk is
// authenticated from its headers before its body, of up to
// agentapi.MaxBulkBodyBytes, is read; any other takes the way of signed.
func (a *Agent) signedBulk(h http.HandlerFunc) http.HandlerFunc {
	return a.verified(func(w http.ResponseWriter, r *http.Request, _ []byte) { h(w, r) }, verifyBulk)
}

// signedBy is signed for a handler that is told which of the accepted
// secrets signed the request (it must not modify it).
func (a *Agent) signedBy(h func(w http.ResponseWriter, r *http.Request, signer []byte)) http.HandlerFunc {
	return a.verified(h, verifyPlain)
}

// verifyMode is how verified takes a request.
type verifyMode int

const (
	verifyPlain    verifyMode = iota
	verifyBulk                // a bulk body is taken (signedBulk)
	verifyDeferred            // the replay record goes with the change (signedDeferred)
)

func (a *Agent) verified(h func(w http.ResponseWriter, r *http.Request, signer []byte), mode verifyMode) http.HandlerFunc {
	bulk := mode == verifyBulk
	return func(w http.ResponseWriter, r *http.Request) {
		hdr, err := a.verifier.CheckHeaders(r)
		if err != nil {
			a.reject(w, r, err)
			return
		}
		if agentapi.IsBulk(r) {
			if !bulk {
				writeError(w, badRequestf("a bulk body (%s) is taken only by PUT /v1/wg/{iface}/peers", agentapi.HeaderContentSHA256))
				return
			}
			a.bulkBody(w, r, hdr, h)
			return
		}
		if r.ContentLength > agentapi.MaxBodyBytes {
			msg := "request body exceeds 1 MiB"
			if bulk {
				msg += fmt.Sprintf(" (a larger one, up to %d bytes, must be signed as bulk: %s)", agentapi.MaxBulkBodyBytes, agentapi.HeaderContentSHA256)
			}
			writeError(w, &kindError{errTooLarge, msg})
			return
		}
		size := r.ContentLength
		if size < 0 { // chunked: it may be as large as the limit
			size = agentapi.MaxBodyBytes
		}
		if size > smallBody {
			ctx, cancel := context.WithTimeout(r.Context(), budgetWait)
			ok := a.budget.acquire(ctx, size)
			cancel()
			if !ok {
				w.Header().Set("Retry-After", "1")
				writeError(w, &kindError{errBusy, "too many request bodies being read, retry later"})
				return
			}
			defer a.budget.release(size)
		}
		if err := http.NewResponseController(w).SetReadDeadline(time.Now().Add(unauthBodyTimeout)); err != nil {
			a.log.Error("cannot bound the body's read time", "err", err)
		}
		body, err := readBody(w, r, agentapi.MaxBodyBytes)
		if err != nil {
			writeError(w, err)
			return
		}
		if mode == verifyDeferred {
			signer, rec, err := a.verifier.VerifySignerJournaled(r, hdr, body)
			if err != nil {
				a.reject(w, r, err)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			var t *replayTicket
			if rec != nil {
				t = &replayTicket{rec: *rec, record: a.verifier.RecordReplay}
				r = r.WithContext(context.WithValue(r.Context(), ticketKey{}, t))
			}
			dw := &durableWriter{ResponseWriter: w, durable: t.durable, refuse: func(err error) { a.reject(w, r, err) }}
			h(dw, r, signer)
			dw.check() // a handler that wrote nothing is answered only now
			return
		}
		signer, err := a.verifier.VerifySigner(r, hdr, body)
		if err != nil {
			a.reject(w, r, err)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		h(w, r, signer)
	}
}

// ticketKey holds, in the context of a request taken by signedDeferred,
// its replay record's ticket.
type ticketKey struct{}

// ticketOf is r's replay record's ticket (see signedDeferred); nil when r
// has nothing to record.
func ticketOf(r *http.Request) *replayTicket {
	t, _ := r.Context().Value(ticketKey{}).(*replayTicket)
	return t
}

// durableWriter holds back the answer to a request taken by
// signedDeferred until its replay record is durable; if that failed, the
// request is refused instead (503), whatever the handler wrote.
type durableWriter struct {
	http.ResponseWriter
	durable func() error
	refuse  func(error)
	checked bool
	failed  bool
}

// check waits for the replay record once and answers the refusal if it
// failed; it reports whether the handler's answer may go out.
func (d *durableWriter) check() bool {
	if !d.checked {
		d.checked = true
		if err := d.durable(); err != nil {
			d.failed = true
			clear(d.ResponseWriter.Header()) // the handler's, not the refusal's
			d.refuse(err)
		}
	}
	return !d.failed
}

func (d *durableWriter) WriteHeader(code int) {
	if d.check() {
		d.ResponseWriter.WriteHeader(code)
	}
}

func (d *durableWriter) Write(p []byte) (int, error) {
	if !d.check() {
		return len(p), nil // the refusal was answered instead
	}
	return d.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection.
func (d *durableWriter) Unwrap() http.ResponseWriter { return d.ResponseWriter }

// bulkBody serves a request signed as bulk: authenticated from its
// headers (the signature covers the body's digest), then its body is read
// and checked against the digest, and only then is h called. Nothing of
// the body is read before the signature matched, so it takes no budget.
func (a *Agent) bulkBody(w http.ResponseWriter, r *http.Request, hdr agentapi.Headers, h func(w http.ResponseWriter, r *http.Request, signer []byte)) {
	digest, signer, err := a.verifier.VerifyBulkHeaders(r, hdr)
	if err != nil {
		a.reject(w, r, err)
		return
	}
	if r.ContentLength > agentapi.MaxBulkBodyBytes {
		writeError(w, &kindError{errTooLarge, fmt.Sprintf("request body exceeds %d bytes", agentapi.MaxBulkBodyBytes)})
		return
	}
	rc := http.NewResponseController(w)
	if err := rc.SetReadDeadline(time.Now().Add(bulkBodyTimeout)); err != nil {
		a.log.Error("cannot bound the body's read time", "err", err)
	}
	if err := rc.SetWriteDeadline(time.Now().Add(bulkAnswerTimeout)); err != nil {
		a.log.Error("cannot extend the answer's time", "err", err)
	}
	body, err := readBody(w, r, agentapi.MaxBulkBodyBytes)
	if err != nil {
		writeError(w, err)
		return
	}
	if err := a.verifier.VerifyBulkBody(r, hdr, digest, body); err != nil {
		a.reject(w, r, err)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	h(w, r, signer)
}

// readBody reads the whole body, at most limit bytes: into a buffer of
// exactly its length when it is known, so that what is held is what was
// budgeted.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength == 0 {
		return nil, nil
	}
	if r.ContentLength > 0 {
		body := make([]byte, r.ContentLength)
		if _, err := io.ReadFull(r.Body, body); err != nil {
			return nil, badRequestf("reading request body: %v", err)
		}
		return body, nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, &kindError{errTooLarge, fmt.Sprintf("request body exceeds %d bytes", limit)}
		}
		return nil, badRequestf("reading request body: %v", err)
	}
	return body, nil
}

// reject answers a request that failed verification and logs why.
func (a *Agent) reject(w http.ResponseWriter, r *http.Request, err error) {
	a.log.Warn("rejected request", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr, "reason", err.Error())
	if cause := errors.Unwrap(err); cause != nil {
		a.log.Error("recording an accepted request failed", "err", cause)
	}
	writeError(w, err)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

// Unwrap lets http.ResponseController reach the connection (read
// deadlines).
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

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
		if !a.log.Enabled(r.Context(), slog.LevelDebug) {
			return // the line's arguments cost allocations even when it is not written
		}
		a.log.Debug("request", "method", r.Method, "path", r.URL.Path, "status", rec.status,
			"duration", time.Since(start), "remote", r.RemoteAddr)
	})
}
