package agentclient

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/controller/store"
)

// PoolOptions configure a Pool.
type PoolOptions struct {
	// Timeout bounds each request, from dialing to the last byte of the
	// answer. 0 means agentapi.DefaultClientTimeout.
	Timeout time.Duration
	// HTTPClient sends the requests. nil means a client of its own that
	// does not follow redirects. A given client is copied; when its
	// Timeout is zero the copy gets Timeout, when it has no CheckRedirect
	// the copy does not follow redirects either, and when it has no
	// Transport the copy gets the Pool's (newTransport).
	HTTPClient *http.Client
}

// Pool holds one agentapi.Client per node. It is safe for concurrent use.
type Pool struct {
	hc *http.Client

	mu      sync.Mutex // guards entries
	entries map[int64]*entry
}

// entry is the cached client of one node and what is known about its
// agent. Its fields are guarded by Pool.mu.
type entry struct {
	url           string
	secretHash    [sha256.Size]byte // of the secret and previous secret, to notice new ones without keeping a copy
	secretVersion int64             // the node's SecretVersion the client was made for
	pin           agentapi.Fingerprint
	client        *agentapi.Client
	// own is the entry's transport when it pins a certificate (the shared
	// one otherwise: nil); its idle connections are closed when the entry
	// is replaced or forgotten.
	own       *http.Transport
	capsKnown bool
	caps      []string
}

// NewPool returns an empty Pool.
func NewPool(opts PoolOptions) *Pool {
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = agentapi.DefaultClientTimeout
	}
	var hc http.Client
	if opts.HTTPClient != nil {
		hc = *opts.HTTPClient
	}
	if hc.Timeout == 0 {
		hc.Timeout = timeout
	}
	if hc.CheckRedirect == nil {
		hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	if hc.Transport == nil {
		hc.Transport = newTransport()
	}
	return &Pool{hc: &hc, entries: make(map[int64]*entry)}
}

// maxIdlePerAgent is how many idle connections the Pool keeps to one
// agent: a poll, a reconcile and a peer creation may reach it at once.
const maxIdlePerAgent = 4

// connReadBuffer and connWriteBuffer size each connection's buffered
// reader and writer (net/http's default is 4 KiB each). A connection is
// kept open to every agent, idle most of the time, so at 10,000 agents
// the defaults held 80 MB of buffers (a tenth of the controller's live
// heap). An answer's header and a health answer fit in 2 KiB, a signed
// request's header in 1 KiB; what is larger (a dump, a replace-all)
// goes past the buffer to the connection in large reads and writes.
const (
	connReadBuffer  = 2 << 10
	connWriteBuffer = 1 << 10
)

// newTransport is the HTTP transport of a Pool: http.DefaultTransport's
// settings, except that idle connections are bounded per agent only, so a
// fleet of any size keeps one open to each agent between polls (the
// default's 100 idle connections in all made every poll cycle above 100
// nodes dial every agent again). An idle connection is kept 90 s, less
// than the agent's own 120 s (internal/httpserve), so a poll interval up
// to 90 s finds it open. Its connections' buffers are small
// (connReadBuffer, connWriteBuffer).
func newTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 0 // no bound over all agents
	t.MaxIdleConnsPerHost = maxIdlePerAgent
	t.IdleConnTimeout = 90 * time.Second
	t.ReadBufferSize, t.WriteBufferSize = connReadBuffer, connWriteBuffer
	return t
}

// For returns the client of node n (starting from the path family n
// records, n.APIPaths), making it on first use and again
// whenever n's AgentURL, Secret or TLSFingerprint differs from the ones
// the cached client was made with (what it knew about the old agent is
// dropped then, and so are the connections of its transport). A node with
// a TLSFingerprint gets a transport of its own that accepts only that
// certificate (agentapi.PinnedTLSConfig); others share the Pool's, which
// verifies https against the system's certificate authorities. It fails
// when n has no ID, or its URL, secret or pin is unusable.
//
// Secrets: the client signs with n.Secret and, when the agent answers
// 401, with n.PrevSecret (a secret rotation under way). A node whose
// SecretVersion is below the cached client's (a copy read before a
// rotation step) gets the cached client: secrets never go back. When a
// new secret replaces the client of the same agent (URL and pin), the
// replaced client is given the new secrets too, so that a request it has
// in flight, refused because a rotation was confirmed meanwhile, is
// signed again with the new secret instead of failing.
func (p *Pool) For(n store.Node) (*agentapi.Client, error) {
	e, err := p.entry(n)
	if err != nil {
		return nil, err
	}
	return e.client, nil
}

func (p *Pool) entry(n store.Node) (*entry, error) {
	if n.ID == 0 {
		return nil, errors.New("agentclient: node has no id")
	}
	h := secretsHash(n.Secret, n.PrevSecret)
	p.mu.Lock()
	defer p.mu.Unlock()
	old, ok := p.entries[n.ID]
	sameAgent := ok && old.url == n.AgentURL && old.pin == n.TLSFingerprint
	if sameAgent && (old.secretHash == h || n.SecretVersion < old.secretVersion) {
		return old, nil
	}
	var fallbacks [][]byte
	if len(n.PrevSecret) > 0 {
		fallbacks = [][]byte{n.PrevSecret}
	}
	c, own, err := p.newClient(n.AgentURL, n.Secret, agentapi.PathFamily(n.APIPaths), n.TLSFingerprint, fallbacks...)
	if err != nil {
		return nil, fmt.Errorf("agentclient: node %d: %w", n.ID, err)
	}
	if ok {
		old.close()
	}
	if sameAgent {
		// Cannot fail: newClient took the same secrets.
		_ = old.client.SetSecrets(n.Secret, fallbacks...)
	}
	e := &entry{url: n.AgentURL, secretHash: h, secretVersion: n.SecretVersion, pin: n.TLSFingerprint, client: c, own: own}
	p.entries[n.ID] = e
	return e, nil
}

// secretsHash identifies a node's secret and previous secret.
func secretsHash(secret, prev []byte) [sha256.Size]byte {
	h := sha256.New()
	for _, s := range [][]byte{secret, prev} {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write(s)
	}
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}

// close drops the idle connections of the entry's own transport; requests
// in flight finish.
func (e *entry) close() {
	if e.own != nil {
		e.own.CloseIdleConnections()
	}
}

// Probe returns a client for the agent at agentURL signing with secret
// and pinning pin (zero: none), made as the Pool makes the clients of
// nodes (same HTTP client and timeout, no redirects) but not kept: for an
// agent that is not a node yet. What it learns of its agent goes with it;
// a pinned one keeps no connection open. It fails when agentURL, secret
// or pin is unusable.
func (p *Pool) Probe(agentURL string, secret []byte, pin agentapi.Fingerprint) (*agentapi.Client, error) {
	c, own, err := p.newClient(agentURL, secret, agentapi.PathsUnknown, pin)
	if err != nil {
		return nil, fmt.Errorf("agent client: %w", err)
	}
	if own != nil {
		own.DisableKeepAlives = true
	}
	return c, nil
}

// newClient is the one constructor of the Pool's clients; paths is the
// agent's path family as far as it is known; fallbacks are tried after a
// 401 (agentapi.ClientConfig). With a pin, the client gets an HTTP client
// and transport of its own, returned as own.
func (p *Pool) newClient(agentURL string, secret []byte, paths agentapi.PathFamily, pin agentapi.Fingerprint, fallbacks ...[]byte) (c *agentapi.Client, own *http.Transport, err error) {
	hc := p.hc
	if !pin.IsZero() {
		if own, err = p.pinnedTransport(agentURL, pin); err != nil {
			return nil, nil, err
		}
		pinned := *p.hc
		pinned.Transport = own
		hc = &pinned
	}
	c, err = agentapi.NewClient(agentapi.ClientConfig{BaseURL: agentURL, Secret: secret, Fallbacks: fallbacks, HTTPClient: hc, Paths: paths})
	if err != nil {
		return nil, nil, err
	}
	return c, own, nil
}

// Forget drops the client of a node and what was known about its agent.
// Forgetting an unknown node does nothing.
func (p *Pool) Forget(nodeID int64) {
	p.mu.Lock()
	if e, ok := p.entries[nodeID]; ok {
		e.close()
		delete(p.entries, nodeID)
	}
	p.mu.Unlock()
}

// Health calls the agent's /health through the node's client and
// remembers the capabilities it advertised, for HasCapability.
func (p *Pool) Health(ctx context.Context, n store.Node) (agentapi.Health, error) {
	e, err := p.entry(n)
	if err != nil {
		return agentapi.Health{}, err
	}
	h, err := e.client.Health(ctx)
	if err != nil {
		return agentapi.Health{}, err
	}
	p.mu.Lock()
	// Only if the entry was not replaced meanwhile: the answer is about
	// the agent this entry's client talks to.
	if p.entries[n.ID] == e {
		e.capsKnown, e.caps = true, slices.Clone(h.Capabilities)
	}
	p.mu.Unlock()
	return h, nil
}

// HasCapability reports whether the node's agent advertised capability c
// in the last Health answer seen through this Pool. known is false when no
// answer has been seen since the client was made (or the capabilities were
// dropped with ForgetCapabilities).
func (p *Pool) HasCapability(nodeID int64, c string) (has, known bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.entries[nodeID]
	if !ok || !e.capsKnown {
		return false, false
	}
	return slices.Contains(e.caps, c), true
}

// MaxBodyBytes is the largest replace-all body the node's agent takes, as
// its last Health answer seen through this Pool advertised
// (agentapi.Client.MaxBodyBytes); agentapi.MaxBodyBytes when none was
// seen.
func (p *Pool) MaxBodyBytes(nodeID int64) int64 {
	p.mu.Lock()
	e, ok := p.entries[nodeID]
	p.mu.Unlock()
	if !ok {
		return agentapi.MaxBodyBytes
	}
	return e.client.MaxBodyBytes()
}

// ForgetCapabilities drops what is known of the node's agent's
// capabilities, so they are asked for again; for when the agent behaved
// unlike its advertisement (it was replaced by another version).
func (p *Pool) ForgetCapabilities(nodeID int64) {
	p.mu.Lock()
	if e, ok := p.entries[nodeID]; ok {
		e.capsKnown, e.caps = false, nil
	}
	p.mu.Unlock()
}
