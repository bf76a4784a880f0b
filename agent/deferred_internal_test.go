package agent

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/tunnel"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// TestReplayRecordFailureFailsItsChangeAlone: changes whose replay record
// is not durable yet reach the committer (signedDeferred); one whose
// record then fails is refused with 503 and leaves nothing, on the device,
// in the peer set or on disk, while the others of its batches land.
func TestReplayRecordFailureFailsItsChangeAlone(t *testing.T) {
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

	failing := map[int]bool{7: true, 30: true, 59: true}
	logFailed := &agentapi.AuthError{Reason: agentapi.ReasonReplayLogFailed}
	specs := make([]peerConf, n)
	results := make([]error, n)
	release := make(chan struct{}) // the replay log's fsync, held until every change is queued
	var wg sync.WaitGroup
	for k := range n {
		key, err := wgtypes.GeneratePrivateKey()
		if err != nil {
			t.Fatal(err)
		}
		specs[k] = peerConf{Key: key.PublicKey(), AllowedIPs: []netip.Prefix{netip.MustParsePrefix(fmt.Sprintf("10.96.1.%d/32", k))}}
		ready := func() error {
			<-release
			if failing[k] {
				return logFailed
			}
			return nil
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[k] = i.addPeer(specs[k], ready)
		}()
	}
	close(release)
	wg.Wait()

	for k, err := range results {
		status, _ := statusOf(err)
		switch {
		case failing[k] && status != http.StatusServiceUnavailable:
			t.Errorf("change %d, whose replay record failed: %d (%v), want 503", k, status, err)
		case !failing[k] && err != nil:
			t.Errorf("change %d: %v", k, err)
		}
	}
	peers, err := tun.Peers()
	if err != nil {
		t.Fatal(err)
	}
	on := map[wgtypes.Key]bool{}
	for _, p := range peers {
		on[p.PublicKey] = true
	}
	if len(peers) != n-len(failing) {
		t.Errorf("device holds %d peers, want %d", len(peers), n-len(failing))
	}
	for k := range failing {
		if on[specs[k].Key] {
			t.Errorf("device holds change %d, whose replay record failed", k)
		}
	}
	if c := i.peerCount(); c != n-len(failing) {
		t.Errorf("peer set holds %d peers, want %d", c, n-len(failing))
	}
	i.stop()
	stopped = true
	saved := loadState(t, dir, "wgrr0")
	if len(saved) != n-len(failing) {
		t.Errorf("journal holds %d peers, want %d", len(saved), n-len(failing))
	}
	for k := range failing {
		if _, ok := saved[specs[k].Key]; ok {
			t.Errorf("journal holds change %d, whose replay record failed", k)
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
