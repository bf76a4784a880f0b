package agentapi

import (
	"encoding/binary"
	"errors"
	"net/http"
	"time"
)

// ReplayRecordSize is the size of a ReplayRecord's binary form.
const ReplayRecordSize = 32 + 8

// ReplayRecord is one request remembered against replays (its nonce's or
// signature's digest, and when it expires), for a caller that makes it
// durable together with the request's own effect instead of in the
// replay log (VerifySignerJournaled): one fsync for both.
type ReplayRecord struct {
	key string // SHA-256 digest, 32 bytes
	exp time.Time
}

// AppendBinary appends the record's binary form (ReplayRecordSize bytes:
// the digest, then the expiry in Unix seconds, big endian) to b.
func (r ReplayRecord) AppendBinary(b []byte) []byte {
	b = append(b, r.key...)
	return binary.BigEndian.AppendUint64(b, uint64(r.exp.Unix()))
}

// ParseReplayRecord reads the binary form AppendBinary wrote.
func ParseReplayRecord(b []byte) (ReplayRecord, error) {
	if len(b) != ReplayRecordSize {
		return ReplayRecord{}, errors.New("agentapi: a replay record is 40 bytes")
	}
	return ReplayRecord{key: string(b[:32]), exp: time.Unix(int64(binary.BigEndian.Uint64(b[32:])), 0)}, nil
}

// Expired reports whether the record no longer matters at now: its
// request's timestamp has left the window.
func (r ReplayRecord) Expired(now time.Time) bool { return !r.exp.After(now) }

// VerifySignerJournaled is VerifySigner for a handler that makes the
// request's replay record durable itself, in the same write as the
// request's effect: nothing is written to the replay log. The request is
// remembered in memory at once, so a replay is refused meanwhile. rec,
// when not nil, must be on stable storage before anything of the request
// is durable or answered: written with the request's effect (and given
// back to LoadReplay after a restart, for as long as it has not expired),
// or else through RecordReplay. rec is nil when there is nothing to
// remember (a safe method without a nonce) or the Verifier has no replay
// log.
func (v *Verifier) VerifySignerJournaled(r *http.Request, h Headers, body []byte) (signer []byte, rec *ReplayRecord, err error) {
	if len(h.sig) != 32 {
		return nil, nil, &AuthError{Reason: ReasonBadSignature} // a zero Headers
	}
	now := v.now()
	w := int64(v.window / time.Second)
	if d := now.Unix() - h.sent; d > w || d < -w {
		return nil, nil, &AuthError{Reason: ReasonStaleTimestamp}
	}
	signer = v.signer(r, body, h.ts, h.nonce, h.sig)
	if signer == nil {
		return nil, nil, &AuthError{Reason: ReasonBadSignature}
	}
	e, ok, err := v.rememberInMemory(r.Method, h.sent, h.nonce, h.sig, now)
	if err != nil {
		return nil, nil, err
	}
	if !ok || v.log == nil {
		return signer, nil, nil
	}
	return signer, &ReplayRecord{key: e.key, exp: e.exp}, nil
}

// RecordReplay appends recs to the replay log and returns once they are
// on stable storage (one fsync for all), or with an *AuthError
// (ReasonReplayLogFailed) saying it failed. Without a replay log it does
// nothing.
func (v *Verifier) RecordReplay(recs ...ReplayRecord) error {
	if v.log == nil || len(recs) == 0 {
		return nil
	}
	entries := make([]replayEntry, len(recs))
	for i, r := range recs {
		entries[i] = replayEntry(r)
	}
	if err := v.log.recordAll(entries); err != nil {
		return &AuthError{Reason: ReasonReplayLogFailed, err: err}
	}
	return nil
}

// LoadReplay remembers again records read back from where a caller made
// them durable (VerifySignerJournaled), at start: those that have not
// expired, all of them, as records read from the replay log are.
func (v *Verifier) LoadReplay(recs []ReplayRecord) {
	now := v.now()
	entries := make([]replayEntry, 0, len(recs))
	for _, r := range recs {
		if !r.Expired(now) {
			entries = append(entries, replayEntry(r))
		}
	}
	v.replay.load(entries)
}
