package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/controller/events"
	"github.com/wgfleet/wgfleet/controller/store"
	"github.com/wgfleet/wgfleet/internal/testenv"
)

// eventLog is a Publisher that remembers every event but peer.created and
// peer.deleted: these tests are about what the limits publish, and the
// peers they make announce themselves too (TestPeerEvents).
type eventLog struct {
	mu  sync.Mutex
	got []events.Event
}

func (l *eventLog) Publish(_ context.Context, e events.Event) {
	if e.Type == events.PeerCreated || e.Type == events.PeerDeleted {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.got = append(l.got, e)
}

func (l *eventLog) take() []events.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	got := l.got
	l.got = nil
	return got
}

// limitsEnv is newEnv with a test clock and an event log.
func limitsEnv(t *testing.T) (*env, *testenv.Clock, *eventLog) {
	t.Helper()
	e := newEnv(t)
	clock := testenv.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	log := &eventLog{}
	e.svc = New(Config{Store: e.store, Syncer: e.syncer, AgentTimeout: 3 * time.Second, Now: clock.Now, Events: log})
	return e, clock, log
}

func rawJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

// auditActions lists the audit actions recorded on a peer, oldest first.
func (e *env) auditActions(t *testing.T, peerID int64) []string {
	t.Helper()
	entries, err := e.store.ListAudit(context.Background(), store.AuditFilter{TargetType: "peer", TargetID: strconv.FormatInt(peerID, 10)})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(entries) - 1; i >= 0; i-- {
		out = append(out, entries[i].Action)
	}
	return out
}

// TestExpiry: a peer expires when the clock passes its expires_at (not
// before), its node is triggered, an event and an audit entry are
// written; moving the date into the future (or to null) releases it at
// the edit.
func TestExpiry(t *testing.T) {
	ctx := context.Background()
	e, clock, log := limitsEnv(t)
	n := e.createNode(t, nodeIn("fra1"))
	exp := clock.Now().Add(time.Hour)
	p := e.createPeer(t, n.ID, PeerInput{Name: ptr("temp"), ExpiresAt: rawJSON(exp.Format(time.RFC3339))})
	testenv.Equal(t, "expires_at", p.ExpiresAt.Equal(exp), true)
	testenv.Equal(t, "status at create", p.Status, "active")
	e.syncer.take()

	clock.Advance(time.Hour - time.Second)
	if err := e.svc.EnforceLimits(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.svc.GetPeer(ctx, p.ID); got.Status != "active" {
		t.Fatalf("a second before its expiry: status %s", got.Status)
	}
	testenv.Equal(t, "triggers before the expiry", len(e.syncer.take()), 0)

	clock.Advance(time.Second)
	if err := e.svc.EnforceLimits(ctx, n.ID); err != nil {
		t.Fatal(err)
	}
	got, _ := e.svc.GetPeer(ctx, p.ID)
	testenv.Equal(t, "status after expiry", got.Status, "expired")
	testenv.Equal(t, "enabled after expiry (the operator's switch)", got.Enabled, true)
	testenv.Equal(t, "sync state after expiry", got.SyncState, "pending")
	testenv.DeepEqual(t, "triggers", e.syncer.take(), []int64{n.ID})
	evs := log.take()
	if len(evs) != 1 || evs[0].Type != events.PeerExpired || evs[0].Peer == nil || evs[0].Peer.ID != p.ID ||
		evs[0].Node == nil || evs[0].Node.Name != "fra1" || !strings.Contains(evs[0].Message, "temp expired") {
		t.Fatalf("events %+v, want one peer.expired of peer %d", evs, p.ID)
	}
	// Checked again: nothing more happens.
	if err := e.svc.EnforceLimits(ctx, 0); err != nil {
		t.Fatal(err)
	}
	testenv.Equal(t, "events on the next check", len(log.take()), 0)

	// Moved into the future: back at once.
	v, err := e.svc.UpdatePeer(ctx, actor, p.ID, PeerInput{ExpiresAt: rawJSON(clock.Now().Add(24 * time.Hour).Format(time.RFC3339))})
	if err != nil {
		t.Fatal(err)
	}
	testenv.Equal(t, "status after moving the date", v.Status, "active")
	// Into the past: expired at once; null: back.
	if v, err = e.svc.UpdatePeer(ctx, actor, p.ID, PeerInput{ExpiresAt: rawJSON(clock.Now().Add(-time.Minute).Format(time.RFC3339))}); err != nil {
		t.Fatal(err)
	}
	testenv.Equal(t, "status with a past date", v.Status, "expired")
	if v, err = e.svc.UpdatePeer(ctx, actor, p.ID, PeerInput{ExpiresAt: json.RawMessage("null")}); err != nil {
		t.Fatal(err)
	}
	testenv.Equal(t, "status with null", v.Status, "active")
	testenv.Equal(t, "expires_at null", v.ExpiresAt == nil, true)
	testenv.DeepEqual(t, "audit", e.auditActions(t, p.ID),
		[]string{"peer.create", "peer.expire", "peer.update", "peer.release", "peer.update", "peer.expire", "peer.update", "peer.release"})
}

// TestManualRestrictionWinsStatus: an expired peer restricted by hand says
// restricted; allowed again it says expired and stays off its node.
func TestManualRestrictionWinsStatus(t *testing.T) {
	ctx := context.Background()
	e, clock, _ := limitsEnv(t)
	n := e.createNode(t, nodeIn("fra1"))
	p := e.createPeer(t, n.ID, PeerInput{ExpiresAt: rawJSON(clock.Now().Add(-time.Second).Format(time.RFC3339))})
	testenv.Equal(t, "status created with a past date", p.Status, "expired")
	v, err := e.svc.SetPeerEnabled(ctx, actor, p.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Equal(t, "status restricted by hand", v.Status, "restricted")
	if v, err = e.svc.SetPeerEnabled(ctx, actor, p.ID, true); err != nil {
		t.Fatal(err)
	}
	testenv.Equal(t, "status allowed again", v.Status, "expired")
	sp, _ := e.store.GetPeer(ctx, p.ID)
	testenv.Equal(t, "on its node", sp.OnNode(), false)
}

// TestDataLimit: usage reaching the limit restricts the peer (over_limit)
// with an event; reset-usage brings it back; a raised limit does too; the
// delete action deletes the peer.
func TestDataLimit(t *testing.T) {
	ctx := context.Background()
	e, _, log := limitsEnv(t)
	n := e.createNode(t, nodeIn("fra1"))
	p := e.createPeer(t, n.ID, PeerInput{Name: ptr("capped"), DataLimit: rawJSON(1000)})
	testenv.Equal(t, "limit_action default", p.LimitAction, "restrict")
	testenv.Equal(t, "data_limit_bytes", *p.DataLimit, int64(1000))
	traffic := func(rx, tx int64) {
		t.Helper()
		if err := e.store.RecordPeerStats(ctx, p.ID, time.Time{}, rx, tx); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.EnforceLimits(ctx, n.ID); err != nil {
			t.Fatal(err)
		}
	}
	status := func() PeerView {
		t.Helper()
		v, err := e.svc.GetPeer(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	traffic(400, 599)
	testenv.Equal(t, "status at 999 of 1000", status().Status, "active")
	traffic(400, 600)
	v := status()
	testenv.Equal(t, "status at 1000 of 1000", v.Status, "over_limit")
	testenv.Equal(t, "usage", v.Usage, int64(1000))
	evs := log.take()
	if len(evs) != 1 || evs[0].Type != events.PeerOverLimit || !strings.Contains(evs[0].Message, "used 1000 bytes of its 1000-byte") {
		t.Fatalf("events %+v, want one peer.over_limit at 1000 bytes", evs)
	}

	v, err := e.svc.ResetUsage(ctx, actor, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Equal(t, "status after reset", v.Status, "active")
	testenv.Equal(t, "usage after reset", v.Usage, int64(0))
	testenv.Equal(t, "total_rx after reset", v.RxTotal, int64(400))

	traffic(900, 700) // 500 + 100 more
	testenv.Equal(t, "status at 600", status().Status, "active")
	traffic(1400, 700)
	testenv.Equal(t, "status at 1100", status().Status, "over_limit")
	if v, err = e.svc.UpdatePeer(ctx, actor, p.ID, PeerInput{DataLimit: rawJSON(5000)}); err != nil {
		t.Fatal(err)
	}
	testenv.Equal(t, "status with a raised limit", v.Status, "active")
	if v, err = e.svc.UpdatePeer(ctx, actor, p.ID, PeerInput{DataLimit: json.RawMessage("null")}); err != nil {
		t.Fatal(err)
	}
	testenv.Equal(t, "data_limit_bytes null", v.DataLimit == nil, true)

	// The delete action.
	d := e.createPeer(t, n.ID, PeerInput{Name: ptr("deleted"), DataLimit: rawJSON(100), LimitAction: ptr("delete")})
	if err := e.store.RecordPeerStats(ctx, d.ID, time.Time{}, 100, 0); err != nil {
		t.Fatal(err)
	}
	log.take()
	if err := e.svc.EnforceLimits(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.GetPeer(ctx, d.ID); !errors.Is(err, store.ErrPeerNotFound) {
		t.Fatalf("peer over its limit with action delete: %v, want it deleted", err)
	}
	evs = log.take()
	if len(evs) != 1 || evs[0].Type != events.PeerOverLimit || !strings.Contains(evs[0].Message, "deleted") {
		t.Fatalf("events %+v, want one peer.over_limit with deleted", evs)
	}
	if acts := e.auditActions(t, d.ID); !slices.Contains(acts, "peer.over_limit") {
		t.Fatalf("audit of the deleted peer %v", acts)
	}
}

// TestLifecycleInputValidated: bad expires_at, data_limit_bytes and
// limit_action are refused naming the field.
func TestLifecycleInputValidated(t *testing.T) {
	ctx := context.Background()
	e, _, _ := limitsEnv(t)
	n := e.createNode(t, nodeIn("fra1"))
	for _, tc := range []struct {
		name  string
		in    PeerInput
		field string
	}{
		{"expires_at not a time", PeerInput{ExpiresAt: rawJSON("tomorrow")}, "expires_at"},
		{"expires_at a number", PeerInput{ExpiresAt: rawJSON(1700000000)}, "expires_at"},
		{"expires_at before 1970", PeerInput{ExpiresAt: rawJSON("1969-12-31T00:00:00Z")}, "expires_at"},
		{"negative limit", PeerInput{DataLimit: rawJSON(-1)}, "data_limit_bytes"},
		{"fractional limit", PeerInput{DataLimit: rawJSON(1.5)}, "data_limit_bytes"},
		{"limit as a string", PeerInput{DataLimit: rawJSON("5GB")}, "data_limit_bytes"},
		{"unknown action", PeerInput{LimitAction: ptr("throttle")}, "limit_action"},
	} {
		in := tc.in
		in.Name = ptr("limits-check")
		_, err := e.svc.CreatePeer(ctx, actor, n.ID, in)
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Field != tc.field {
			t.Errorf("%s: %v, want a validation error of %s", tc.name, err, tc.field)
		}
	}
}
