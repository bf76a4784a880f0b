package agenttest

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agentapi"
)

// FakeOptions shape a Fake. The zero value is our agent's dialect with one
// interface "wg0", a random secret and our agent's capabilities.
type FakeOptions struct {
	// Ifaces are the interfaces it serves; nil means "wg0".
	Ifaces []string
	// Secret is the shared secret; "" means RandomSecret.
	Secret string
	// Capabilities go into /health; nil means our agent's (nonce,
	// peer-sync, interface-info), empty means none.
	Capabilities []string
	// Version goes into /health; "" means "fake".
	Version string
	// Prefix is the escaped path the API is mounted under
	// ("/agent%20one"); "" means the root.
	Prefix string
	// Dialect is how it speaks where agents of the family differ.
	Dialect Dialect
	// Now is its clock (timestamps in /health, the signature window); nil
	// means time.Now.
	Now func() time.Time
	// Unserved leaves the Fake without a server of its own: the caller
	// serves its ServeHTTP (a benchmark's many simulated agents, each on
	// a listener that counts connections). URL is then "", and Addr and
	// Client must not be used.
	Unserved bool
}

// Fake is an in-memory agent behind a real HTTP server on loopback: it
// verifies signatures as docs/AGENT_API.md "Signing" says, keeps
// each interface's peers in a map, validates and answers like a real
// agent (docs/AGENT_API.md), and holds no device. Tests inject faults
// (Inject), count and inspect the calls it got (Calls, Requests), and
// change its peers behind the controller's back (Edit). It is safe for
// concurrent use.
type Fake struct {
	// URL is the base URL of its API, Prefix included.
	URL    string
	Secret string

	srv      *httptest.Server
	prefix   string
	caps     []string
	version  string
	dialect  Dialect
	now      func() time.Time
	started  time.Time
	verifier *agentapi.Verifier
	quit     chan struct{} // closed when the Fake closes: delays end

	mu       sync.Mutex // guards everything below
	ifaces   map[string]*fakeIface
	order    []string
	faults   map[Op]*armed
	log      []Request
	calls    map[Op]int
	inflight int
	maxIn    int
	gen      int // Reset count: a call records its status in its own log
}

var _ http.Handler = (*Fake)(nil)

// fakeIface is one interface of a Fake.
type fakeIface struct {
	name      string
	publicKey wgtypes.Key
	// peers hold what a dump shows, plus the preshared key in
	// PresharedKey, which answers never carry.
	peers map[wgtypes.Key]agentapi.Peer
}

// StartFake runs a Fake until the test ends.
func StartFake(t testing.TB, o FakeOptions) *Fake {
	t.Helper()
	if o.Ifaces == nil {
		o.Ifaces = []string{"wg0"}
	}
	if o.Secret == "" {
		o.Secret = RandomSecret()
	}
	if o.Capabilities == nil {
		o.Capabilities = []string{agentapi.CapNonce, agentapi.CapPeerSync, agentapi.CapInterfaceInfo}
	}
	if o.Version == "" {
		o.Version = "fake"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	v, err := agentapi.NewVerifier(agentapi.VerifierConfig{Secrets: [][]byte{[]byte(o.Secret)}, Now: o.Now})
	if err != nil {
		t.Fatalf("agenttest: fake verifier: %v", err)
	}
	f := &Fake{
		Secret: o.Secret, prefix: strings.TrimSuffix(o.Prefix, "/"), caps: o.Capabilities, version: o.Version,
		dialect: o.Dialect, now: o.Now, started: o.Now(), verifier: v, quit: make(chan struct{}),
		ifaces: map[string]*fakeIface{}, faults: map[Op]*armed{}, calls: map[Op]int{},
	}
	for _, name := range o.Ifaces {
		priv, err := wgtypes.GeneratePrivateKey()
		if err != nil {
			t.Fatalf("agenttest: fake interface key: %v", err)
		}
		f.ifaces[name] = &fakeIface{name: name, publicKey: priv.PublicKey(), peers: map[wgtypes.Key]agentapi.Peer{}}
		f.order = append(f.order, name)
	}
	if !o.Unserved {
		f.srv = httptest.NewServer(f)
		f.URL = f.srv.URL + f.prefix
	}
	t.Cleanup(f.Close)
	return f
}

// Close stops the server; a delayed call ends at once. It is idempotent.
func (f *Fake) Close() {
	f.mu.Lock()
	select {
	case <-f.quit:
		f.mu.Unlock()
		return
	default:
	}
	close(f.quit)
	f.mu.Unlock()
	if f.srv != nil {
		f.srv.Close()
	}
}

// Addr is the host:port it listens on, as agentapi.Client errors name it.
func (f *Fake) Addr() string { return f.srv.Listener.Addr().String() }

// Client is a signed API client for this agent.
func (f *Fake) Client(t testing.TB) *agentapi.Client {
	t.Helper()
	c, err := agentapi.NewClient(agentapi.ClientConfig{BaseURL: f.URL, Secret: []byte(f.Secret)})
	if err != nil {
		t.Fatalf("agenttest: client: %v", err)
	}
	return c
}

// Peers returns iface's peers as a dump shows them, sorted by key; nil
// for an unknown interface.
func (f *Fake) Peers(iface string) []agentapi.Peer {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := f.ifaces[iface]
	if i == nil {
		return nil
	}
	return i.list()
}

// PresharedKey returns the preshared key iface holds for peer k, and
// whether it holds one.
func (f *Fake) PresharedKey(iface string, k wgtypes.Key) (wgtypes.Key, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := f.ifaces[iface]
	if i == nil {
		return wgtypes.Key{}, false
	}
	p, ok := i.peers[k]
	if !ok || p.PresharedKey == nil {
		return wgtypes.Key{}, false
	}
	psk, err := wgtypes.ParseKey(*p.PresharedKey)
	return psk, err == nil
}

// Edit runs fn on iface's peers, behind the API's back (nothing is
// validated). PresharedKey holds a peer's preshared key. It panics for an
// unknown interface.
func (f *Fake) Edit(iface string, fn func(peers map[wgtypes.Key]agentapi.Peer)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := f.ifaces[iface]
	if i == nil {
		panic("agenttest: Edit of unknown interface " + iface)
	}
	fn(i.peers)
}

// ServeHTTP serves one call: it records it, suffers the fault injected
// for it, routes and verifies it like a real agent, and answers.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, agentapi.MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		writeError(w, http.StatusRequestEntityTooLarge, "request body exceeds 1 MiB")
		return
	} else if err != nil {
		writeError(w, http.StatusBadRequest, "reading request body: "+err.Error())
		return
	}
	rt := f.route(r)

	f.mu.Lock()
	seq, gen := len(f.log), f.gen
	f.log = append(f.log, f.record(r, rt.op, body))
	f.calls[rt.op]++
	f.inflight++
	f.maxIn = max(f.maxIn, f.inflight)
	fault := f.takeFault(rt.op)
	f.mu.Unlock()
	rec := &StatusRecorder{ResponseWriter: w}
	defer func() {
		f.mu.Lock()
		f.inflight--
		if gen == f.gen { // not Reset meanwhile
			f.log[seq].Status = rec.Status
		}
		f.mu.Unlock()
	}()

	f.delay(r, fault.Delay)
	switch {
	case fault.Drop:
		drop(w)
		return
	case fault.Status != 0:
		answerFault(rec, fault)
		return
	case rt.op == OpUnknown:
		f.notServed(rec, rt.methodNotAllowed)
		return
	}
	if err := f.verify(r, body); err != nil {
		status := http.StatusUnauthorized
		if err.Error() == agentapi.ReasonReplayCacheFull {
			status = http.StatusServiceUnavailable
		}
		f.writeErr(rec, status, err.Error())
		return
	}
	f.serve(rec, rt, body, fault.Lie)
}

// route is where a request goes.
type route struct {
	op               Op // OpUnknown when nothing is served there
	methodNotAllowed bool
	iface            string
	key              string // raw, after /peers/
}

// route finds the endpoint of r in the Fake's dialect.
func (f *Fake) route(r *http.Request) route {
	path, ok := strings.CutPrefix(r.URL.EscapedPath(), f.prefix)
	if !ok {
		return route{op: OpUnknown}
	}
	if rt, ok := f.routeExtra(r, path); ok {
		return rt
	}
	if path == "/health" {
		return f.pick(r, false, map[string]Op{http.MethodGet: OpHealth}, route{})
	}
	path, v1 := strings.CutPrefix(path, "/v1")
	rest, ok := strings.CutPrefix(path, "/wg/")
	if !ok {
		return route{op: OpUnknown}
	}
	escIface, tail, hasTail := strings.Cut(rest, "/")
	iface, err := url.PathUnescape(escIface)
	if err != nil || iface == "" {
		return route{op: OpUnknown}
	}
	rt := route{iface: iface}
	switch {
	case !hasTail:
		return f.pick(r, v1, map[string]Op{http.MethodGet: OpInterface}, rt)
	case tail == "dump":
		return f.pick(r, v1, map[string]Op{http.MethodGet: OpDump}, rt)
	case tail == "peers":
		return f.pick(r, v1, map[string]Op{http.MethodPost: OpAddPeer, http.MethodGet: OpPeers, http.MethodPut: OpSync}, rt)
	case strings.HasPrefix(tail, "peers/") && len(tail) > len("peers/"):
		rt.key = strings.TrimPrefix(tail, "peers/")
		if f.dialect.Quirks.KeyOneSegment && strings.Contains(rt.key, "/") {
			// The raw path split on '/' matches no route.
			return route{op: OpUnknown}
		}
		return f.pick(r, v1, map[string]Op{http.MethodPut: OpUpdatePeer, http.MethodDelete: OpDeletePeer, http.MethodGet: OpPeer}, rt)
	}
	return route{op: OpUnknown}
}

// pick chooses the op of r's method among those at one path, keeping to
// what the dialect serves.
func (f *Fake) pick(r *http.Request, v1 bool, ops map[string]Op, rt route) route {
	if op, ok := ops[r.Method]; ok && f.dialect.Paths.serves(op, v1) {
		rt.op = op
		return rt
	}
	for _, op := range ops {
		if f.dialect.Paths.serves(op, v1) {
			return route{op: OpUnknown, methodNotAllowed: true}
		}
	}
	return route{op: OpUnknown}
}

// StatusRecorder remembers the status of an answer (Status; 0 until the
// handler writes one) for wrappers around a fake's handler.
type StatusRecorder struct {
	http.ResponseWriter
	Status int
}

// WriteHeader records code, then writes it.
func (s *StatusRecorder) WriteHeader(code int) {
	if s.Status == 0 {
		s.Status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

// Write records 200 if no status was written, then writes b.
func (s *StatusRecorder) Write(b []byte) (int, error) {
	if s.Status == 0 {
		s.Status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, agentapi.ErrorResponse{Error: msg})
}

// list is every peer of i as a dump shows it, sorted by key; f.mu is held.
func (i *fakeIface) list() []agentapi.Peer {
	out := make([]agentapi.Peer, 0, len(i.peers))
	for _, p := range i.peers {
		p.PresharedKey = nil
		if p.AllowedIPs == nil {
			p.AllowedIPs = []string{}
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b agentapi.Peer) int { return strings.Compare(a.PublicKey, b.PublicKey) })
	return out
}
