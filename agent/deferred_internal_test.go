package agent

import (
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/tunnel"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// testRecord is a replay record made from n, expiring at exp.
func testRecord(t *testing.T, n int, exp time.Time) agentapi.ReplayRecord {
	t.Helper()
	b := make([]byte, 32, agentapi.ReplayRecordSize)
	b[0], b[1], b[31] = byte(n>>8), byte(n), 0x5a
	r, err := agentapi.ParseReplayRecord(binary.BigEndian.AppendUint64(b, uint64(exp.Unix())))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestReplayRecordRidesWithItsChange: concurrent changes with replay
// tickets, on a real device: the record of each change that lands is
// written into the journal with it (a reopened store reads back exactly
// those records, and their tickets are durable without the replay log);
// a change that is refused (a peer added twice) leaves nothing in the
// journal, and its ticket goes to the replay log once, when it is
// answered; one whose replay log write fails reports that failure.
func TestReplayRecordRidesWithItsChange(t *testing.T) {
	const n = 60
	priv, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	tun, err := tunnel.NewNetstack(tunnel.Config{Name: "wgrr0", PrivateKey: priv, Addresses: []netip.Prefix{netip.MustParsePrefix("10.96.0.1/24")}})
	if err != nil {
		t.Fatal(err)
	}
	defer tun.Close()
	dir := t.TempDir()
	i, err := restoreIface("wgrr0", dir, tun, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	i.start()
	stopped := false
	defer func() {
		if !stopped {
			i.stop()
		}
	}()

	exp := time.Now().Add(time.Hour)
	twice := map[int]bool{7: true, 30: true, 59: true} // each adds the peer of the change before it
	logFailed := &agentapi.AuthError{Reason: agentapi.ReasonReplayLogFailed}
	var mu sync.Mutex
	logged := map[int]int{} // the fallback's writes, per change
	specs := make([]peerConf, n)
	tickets := make([]*replayTicket, n)
	for k := range n {
		key, err := wgtypes.GeneratePrivateKey()
		if err != nil {
			t.Fatal(err)
		}
		specs[k] = peerConf{Key: key.PublicKey(), AllowedIPs: []netip.Prefix{netip.MustParsePrefix(fmt.Sprintf("10.96.1.%d/32", k))}}
		tickets[k] = &replayTicket{rec: testRecord(t, k, exp), record: func(recs ...agentapi.ReplayRecord) error {
			mu.Lock()
			logged[k] += len(recs)
			mu.Unlock()
			if k == 59 {
				return logFailed
			}
			return nil
		}}
	}
	// The peers of the changes added twice land first, so the second
	// adds are refused whatever the order of the rest.
	for k := range twice {
		if err := i.addPeer(specs[k-1], nil); err != nil {
			t.Fatal(err)
		}
	}
	results := make([]error, n)
	var wg sync.WaitGroup
	for k := range n {
		conf := specs[k]
		if twice[k] {
			conf = specs[k-1]
		}
		if twice[k+1] {
			continue // added above
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[k] = i.addPeer(conf, tickets[k])
		}()
	}
	wg.Wait()

	want := map[string]bool{} // the records the journal must hold
	for k := range n {
		if twice[k+1] {
			continue
		}
		err := results[k]
		status, _ := statusOf(err)
		switch {
		case twice[k] && status != http.StatusConflict:
			t.Errorf("change %d, a peer added twice: %v, want 409", k, err)
		case !twice[k] && err != nil:
			t.Errorf("change %d: %v", k, err)
		}
		derr := tickets[k].durable()
		if tickets[k].durable() != derr {
			t.Errorf("change %d: durable answers differently the second time", k)
		}
		mu.Lock()
		writes := logged[k]
		mu.Unlock()
		switch {
		case twice[k] && writes != 1:
			t.Errorf("change %d, refused: its record went to the replay log %d times, want once", k, writes)
		case !twice[k] && writes != 0:
			t.Errorf("change %d, journaled: its record went to the replay log too (%d)", k, writes)
		case k == 59 && derr != logFailed:
			t.Errorf("change %d, whose replay log write failed: durable = %v", k, derr)
		case k != 59 && derr != nil:
			t.Errorf("change %d: durable = %v", k, derr)
		}
		if !twice[k] {
			want[string(tickets[k].rec.AppendBinary(nil))] = true
		}
	}
	i.stop()
	stopped = true

	s, set, err := openPeerStore(dir, "wgrr0", discardLog())
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	if len(set) != n-len(twice) {
		t.Errorf("journal holds %d peers, want %d", len(set), n-len(twice))
	}
	got := map[string]bool{}
	for _, r := range s.replays {
		got[string(r.AppendBinary(nil))] = true
	}
	if len(got) != len(want) || len(s.replays) != len(want) {
		t.Fatalf("journal holds %d replay records (%d distinct), want %d", len(s.replays), len(got), len(want))
	}
	for r := range want {
		if !got[r] {
			t.Fatalf("journal lacks the replay record %x", r)
		}
	}
}

// TestDurableWriter: the answer of a request taken by signedDeferred goes
// out only once its replay record is durable, and is replaced by the
// refusal (503) when that failed; a handler that writes nothing still has
// the record waited for.
func TestDurableWriter(t *testing.T) {
	a := &Agent{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	logFailed := &agentapi.AuthError{Reason: agentapi.ReasonReplayLogFailed}
	for _, tt := range []struct {
		name       string
		durable    error
		write      bool
		wantStatus int
		wantBody   string
	}{
		{"durable", nil, true, http.StatusCreated, `"Peer added successfully"`},
		{"log failed", logFailed, true, http.StatusServiceUnavailable, agentapi.ReasonReplayLogFailed},
		{"log failed, nothing written", logFailed, false, http.StatusServiceUnavailable, agentapi.ReasonReplayLogFailed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			durable := func() error { calls++; return tt.durable }
			rec := httptest.NewRecorder()
			r := httptest.NewRequest(http.MethodPost, "/wg/wg0/peers", nil)
			dw := &durableWriter{ResponseWriter: rec, durable: durable, refuse: func(err error) { a.reject(rec, r, err) }}
			if tt.write {
				writeJSON(dw, http.StatusCreated, agentapi.StatusResponse{Status: "success", Message: "Peer added successfully"})
			}
			dw.check()
			if calls != 1 {
				t.Errorf("durable called %d times, want once", calls)
			}
			if rec.Code != tt.wantStatus || !strings.Contains(rec.Body.String(), tt.wantBody) {
				t.Fatalf("answer %d %q, want %d with %q", rec.Code, rec.Body, tt.wantStatus, tt.wantBody)
			}
			if tt.durable != nil && strings.Contains(rec.Body.String(), "success") {
				t.Fatalf("the handler's answer went out too: %q", rec.Body)
			}
		})
	}
}
