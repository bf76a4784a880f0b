package agentapi_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/internal/testenv"
)

// TestVerifySignerJournaled: a request verified for a caller that keeps
// its replay record itself is refused as a replay at once and writes
// nothing to the replay log: a restart forgets it, unless the record is
// given back (LoadReplay, as the agent does from its peer journal) or
// written through RecordReplay. The record survives its binary form and
// says when it has expired; a safe request without a nonce has none.
func TestVerifySignerJournaled(t *testing.T) {
	path := filepath.Join(t.TempDir(), "replay.log")
	clock := testenv.NewClock(time.Unix(testNow, 0))
	cfg := agentapi.VerifierConfig{ReplayLog: path}
	v := newTestVerifier(t, clock, cfg)
	verify := func(v *agentapi.Verifier, s signed) (*agentapi.ReplayRecord, error) {
		t.Helper()
		r, body := s.request()
		h, err := v.CheckHeaders(r)
		if err != nil {
			t.Fatal(err)
		}
		signer, rec, err := v.VerifySignerJournaled(r, h, body)
		if err == nil && signer == nil {
			t.Fatal("accepted without a signer")
		}
		return rec, err
	}
	post := signed{method: "POST", target: "/wg/wg0/peers", body: `{"public_key":"k"}`}
	del := signed{method: "DELETE", target: "/wg/wg0/peers/k"}
	rec, err := verify(v, post)
	if err != nil || rec == nil {
		t.Fatalf("VerifySignerJournaled = %v, %v", rec, err)
	}
	r2, body2 := post.request()
	wantReason(t, v.Verify(r2, body2), agentapi.ReasonReplayed)
	delRec, err := verify(v, del)
	if err != nil || delRec == nil {
		t.Fatalf("VerifySignerJournaled (DELETE) = %v, %v", delRec, err)
	}
	if rec, err := verify(v, signed{method: "GET", target: "/wg/wg0/dump"}); err != nil || rec != nil {
		t.Fatalf("a GET without a nonce: %v, %v; want no record", rec, err)
	}
	v.Close()

	// Nothing went to the log.
	v2 := newTestVerifier(t, clock, cfg)
	if _, err := verify(v2, post); err != nil {
		t.Fatalf("after a restart without the record: %v, want accepted", err)
	}
	v2.Close()

	back, err := agentapi.ParseReplayRecord(rec.AppendBinary(nil))
	if err != nil {
		t.Fatal(err)
	}
	v3 := newTestVerifier(t, clock, cfg)
	v3.LoadReplay([]agentapi.ReplayRecord{back})
	_, err = verify(v3, post)
	wantReason(t, err, agentapi.ReasonReplayed)
	if err := v3.RecordReplay(*delRec); err != nil {
		t.Fatal(err)
	}
	v3.Close()
	v4 := newTestVerifier(t, clock, cfg)
	_, err = verify(v4, del)
	wantReason(t, err, agentapi.ReasonReplayed)
	v4.Close()

	clock.Advance(agentapi.DefaultWindow + 2*time.Second)
	v5 := newTestVerifier(t, clock, cfg)
	defer v5.Close()
	v5.LoadReplay([]agentapi.ReplayRecord{back})
	if !back.Expired(clock.Now()) {
		t.Fatal("the record has not expired after its window")
	}
	if _, err := agentapi.ParseReplayRecord(make([]byte, 39)); err == nil {
		t.Fatal("a 39-byte record parsed")
	}
}
