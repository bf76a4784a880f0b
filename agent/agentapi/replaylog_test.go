package agentapi_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/internal/testenv"
)

// TestReplayLogAcrossRestarts: what a Verifier with a replay log accepted
// is refused by the next Verifier on the same log while inside its window,
// and forgotten after it; a torn or garbled tail (a crash mid-append) costs
// nothing that was accepted.
func TestReplayLogAcrossRestarts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "replay.log")
	clock := testenv.NewClock(time.Unix(testNow, 0))
	cfg := agentapi.VerifierConfig{ReplayLog: path}
	v := newTestVerifier(t, clock, cfg)
	post := signed{method: "POST", target: "/wg/wg0/peers", body: `{"public_key":"k"}`}
	del := signed{method: "DELETE", target: "/wg/wg0/peers/k", nonce: "0123456789abcdef0123"}
	get := signed{target: "/wg/wg0/dump", nonce: "fedcba9876543210fedc"}
	for _, s := range []signed{post, del, get} {
		r, body := s.request()
		wantReason(t, v.Verify(r, body), "")
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	if err := v.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("replay log: %v, mode %v", err, st.Mode())
	}
	// A crash mid-append leaves part of a record and a garbled one.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.Write(make([]byte, 44+17))
	f.Close()

	clock.Advance(200 * time.Second)
	v2 := newTestVerifier(t, clock, cfg)
	for _, tt := range []struct {
		s      signed
		reason string
	}{{post, agentapi.ReasonReplayed}, {del, agentapi.ReasonNonceReused}, {get, agentapi.ReasonNonceReused}} {
		r, body := tt.s.request()
		wantReason(t, v2.Verify(r, body), tt.reason)
	}
	v2.Close()

	// Past the window the entries are gone from the log (and the
	// timestamps stale anyway): a fresh verifier starts with an empty one.
	clock.Advance(agentapi.DefaultWindow)
	v3 := newTestVerifier(t, clock, cfg)
	v3.Close()
	if st, err := os.Stat(path); err != nil || st.Size() != int64(len("WGRPLY01")) {
		t.Fatalf("log after the window: %v, %d bytes, want only the header", err, st.Size())
	}
}

// TestReplayLogBoundedAndConcurrent: many concurrent accepted requests are
// all recorded (group-committed), and the log is compacted as entries
// expire, so it stays bounded by what the window holds.
func TestReplayLogBoundedAndConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "replay.log")
	clock := testenv.NewClock(time.Unix(testNow, 0))
	v := newTestVerifier(t, clock, agentapi.VerifierConfig{ReplayLog: path, Window: 10 * time.Second})
	const rounds, perRound = 8, 1500
	for round := 0; round < rounds; round++ {
		var wg sync.WaitGroup
		errs := make(chan error, perRound)
		for i := 0; i < perRound; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := signed{method: "POST", target: "/wg/wg0/peers", body: fmt.Sprintf(`{"n":%d,"r":%d}`, i, round), ts: fmt.Sprint(clock.Now().Unix())}
				r, body := s.request()
				if err := v.Verify(r, body); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("round %d: %v", round, err)
		}
		clock.Advance(20 * time.Second) // everything so far expires
	}
	v.Close()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	// Without compaction the log would hold rounds*perRound records.
	if max := int64(8 + 44*(2*perRound+4096+perRound)); st.Size() > max {
		t.Fatalf("replay log is %d bytes after %d records, want at most %d", st.Size(), rounds*perRound, max)
	}
	// Every request of the last round is still refused after a restart.
	clock.Advance(-20 * time.Second)
	v2 := newTestVerifier(t, clock, agentapi.VerifierConfig{ReplayLog: path, Window: 10 * time.Second})
	defer v2.Close()
	for i := 0; i < perRound; i += 97 {
		s := signed{method: "POST", target: "/wg/wg0/peers", body: fmt.Sprintf(`{"n":%d,"r":%d}`, i, rounds-1), ts: fmt.Sprint(clock.Now().Unix())}
		r, body := s.request()
		wantReason(t, v2.Verify(r, body), agentapi.ReasonReplayed)
	}
}

// TestReplayLogNotALog: a file that is not a replay log stops the start
// rather than silently forgetting what was accepted.
func TestReplayLogNotALog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "replay.log")
	if err := os.WriteFile(path, []byte("something else entirely"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := agentapi.NewVerifier(agentapi.VerifierConfig{Secrets: [][]byte{testSecret}, ReplayLog: path}); err == nil {
		t.Fatal("NewVerifier accepted a file that is not a replay log")
	}
}

// TestVerifySignerDeferred: a request verified with the replay log
// deferred is refused as a replay at once, before its record is durable;
// durable then says it is on the log, which a restart reads back; after
// the log is closed, durable reports the log's failure as VerifySigner
// would (503 reason), the same at every call.
func TestVerifySignerDeferred(t *testing.T) {
	path := filepath.Join(t.TempDir(), "replay.log")
	clock := testenv.NewClock(time.Unix(testNow, 0))
	cfg := agentapi.VerifierConfig{ReplayLog: path}
	v := newTestVerifier(t, clock, cfg)
	post := signed{method: "POST", target: "/wg/wg0/peers", body: `{"public_key":"k"}`}
	r, body := post.request()
	h, err := v.CheckHeaders(r)
	if err != nil {
		t.Fatal(err)
	}
	signer, durable, err := v.VerifySignerDeferred(r, h, body)
	if err != nil || signer == nil || durable == nil {
		t.Fatalf("VerifySignerDeferred = %v, %v", signer, err)
	}
	r2, body2 := post.request()
	wantReason(t, v.Verify(r2, body2), agentapi.ReasonReplayed)
	if err := durable(); err != nil {
		t.Fatalf("durable: %v", err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	v2 := newTestVerifier(t, clock, cfg)
	r3, body3 := post.request()
	wantReason(t, v2.Verify(r3, body3), agentapi.ReasonReplayed)

	// A log that fails: the request is remembered in memory, and durable
	// reports the failure.
	v2.Close()
	del := signed{method: "DELETE", target: "/wg/wg0/peers/k"}
	r4, body4 := del.request()
	h4, err := v2.CheckHeaders(r4)
	if err != nil {
		t.Fatal(err)
	}
	_, durable, err = v2.VerifySignerDeferred(r4, h4, body4)
	if err != nil {
		t.Fatalf("VerifySignerDeferred: %v", err)
	}
	wantReason(t, durable(), agentapi.ReasonReplayLogFailed)
	wantReason(t, durable(), agentapi.ReasonReplayLogFailed)
	r5, body5 := del.request()
	h5, _ := v2.CheckHeaders(r5)
	if _, err := v2.VerifySigner(r5, h5, body5); err == nil {
		t.Fatal("the same request accepted again after its log failed")
	}
}
