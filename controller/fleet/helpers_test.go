package fleet

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/controller/secretbox"
	"github.com/wgfleet/wgfleet/controller/store"
)

// recordingSyncer remembers every Trigger.
type recordingSyncer struct {
	mu  sync.Mutex
	ids []int64
}

var _ Syncer = (*recordingSyncer)(nil)

func (r *recordingSyncer) Trigger(id int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ids = append(r.ids, id)
}

// take returns the triggers so far and forgets them.
func (r *recordingSyncer) take() []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := r.ids
	r.ids = nil
	return ids
}

type env struct {
	svc    *Service
	store  *store.Store
	syncer *recordingSyncer
	dir    string // holds the database files
	path   string
	named  int // peers createPeer named
}

const actor Actor = "user:tester"

// newEnv opens a real SQLite store under a random master key.
func newEnv(t *testing.T) *env {
	t.Helper()
	key := make([]byte, secretbox.KeySize)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	box, err := secretbox.New(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "controller.db")
	st, err := store.Open(context.Background(), path, box)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{store: st, syncer: &recordingSyncer{}, dir: dir, path: path}
	e.svc = New(Config{Store: st, Syncer: e.syncer, AgentTimeout: 3 * time.Second})
	return e
}

func ptr[T any](v T) *T { return &v }

// unreachableAgent is a URL where no agent listens: loopback port 1
// refuses connections at once.
const unreachableAgent = "http://127.0.0.1:1"

// nodeIn is a valid node input whose agent cannot be reached. Every such
// node has the pools 10.8.0.0/24 and fd00:8::/64, so it allows the
// overlap (TestPoolOverlap tests the refusal).
func nodeIn(name string) NodeInput {
	return NodeInput{
		Name:         ptr(name),
		AgentURL:     ptr(unreachableAgent),
		Secret:       ptr("secret-of-" + name + "-0123456789abcdef"),
		Endpoint:     ptr(name + ".example.net:51820"),
		IPPool:       ptr("10.8.0.0/24"),
		IPPool6:      ptr("fd00:8::/64"),
		DNS:          ptr("1.1.1.1"),
		AllowOverlap: ptr(true),
	}
}

func (e *env) createNode(t *testing.T, in NodeInput) NodeView {
	t.Helper()
	v, err := e.svc.CreateNode(context.Background(), actor, in)
	if err != nil {
		t.Fatalf("CreateNode(%s): %v", deref(in.Name), err)
	}
	return v
}

func (e *env) createPeer(t *testing.T, nodeID int64, in PeerInput) PeerView {
	t.Helper()
	if in.Name == nil { // names are required and unique per node: one of its own
		e.named++
		in.Name = ptr(fmt.Sprintf("test-peer-%d", e.named))
	}
	v, err := e.svc.CreatePeer(context.Background(), actor, nodeID, in)
	if err != nil {
		t.Fatalf("CreatePeer(node %d): %v", nodeID, err)
	}
	return v
}

// setOnline records a successful poll, with a health document that lists
// the node's interface and public key.
func (e *env) setOnline(t *testing.T, nodeID int64, iface string, pub wgtypes.Key) {
	t.Helper()
	h := agentapi.Health{Status: "ok", Version: "test", Interfaces: []agentapi.InterfaceInfo{{Name: iface, PublicKey: pub.String()}}}
	raw, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.RecordNodeHealth(context.Background(), nodeID, store.NodeOnline, raw, pub, "", true); err != nil {
		t.Fatal(err)
	}
}

func (e *env) setStatus(t *testing.T, nodeID int64, status store.NodeStatus) {
	t.Helper()
	if err := e.store.RecordNodeHealth(context.Background(), nodeID, status, nil, wgtypes.Key{}, "test", status == store.NodeOnline); err != nil {
		t.Fatal(err)
	}
}

func (e *env) node(t *testing.T, id int64) store.Node {
	t.Helper()
	n, err := e.store.GetNode(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (e *env) audit(t *testing.T) []store.AuditEntry {
	t.Helper()
	entries, err := e.store.ListAudit(context.Background(), store.AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

// lastAudit returns the newest audit entry with the given action.
func (e *env) lastAudit(t *testing.T, action string) store.AuditEntry {
	t.Helper()
	for _, a := range e.audit(t) {
		if a.Action == action {
			return a
		}
	}
	t.Fatalf("no audit entry %q", action)
	return store.AuditEntry{}
}

func newKey(t testing.TB) wgtypes.Key {
	t.Helper()
	k, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// wantField fails unless err is a *ValidationError for field.
func wantField(t *testing.T, err error, field string) {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v is not a *ValidationError (for %s)", err, field)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("error %v does not wrap ErrInvalid", err)
	}
	if ve.Field != field {
		t.Fatalf("ValidationError names %q, want %q (%v)", ve.Field, field, err)
	}
	if ve.Message == "" {
		t.Fatalf("ValidationError for %s has no message", field)
	}
	// Messages are for people: no parser's or package's own error text.
	for _, leak := range []string{"netip.", "strconv.", "Parse", "wgtypes:", "ipam:", "wgconfig:", "store:", "%!"} {
		if strings.Contains(ve.Message, leak) {
			t.Fatalf("ValidationError for %s passes on Go internals (%q): %s", field, leak, ve.Message)
		}
	}
}

func wantTriggers(t *testing.T, s *recordingSyncer, want ...int64) {
	t.Helper()
	got := s.take()
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("Syncer triggered for %v, want %v", got, want)
	}
}

func jsonString(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
