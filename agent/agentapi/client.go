package agentapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/wgrules"
)

const (
	// DefaultClientTimeout bounds one request to an agent, from dialing to
	// the last byte of the answer, wherever no other bound is configured:
	// the default HTTP client of a Client, the controller's agentclient
	// pool, its fleet service and its poller.
	DefaultClientTimeout = 10 * time.Second
	// maxResponseBytes bounds what is read of an answer.
	maxResponseBytes = 32 << 20
	// maxErrorMessage bounds the agent's error message kept in an
	// APIError.
	maxErrorMessage = 1024
)

// ClientConfig configures a Client.
type ClientConfig struct {
	// BaseURL is the agent's address: http or https, a host, optionally a
	// path prefix; no user info, query or fragment.
	BaseURL string
	// Secret is the shared secret requests are signed with. Required.
	Secret []byte
	// Fallbacks are other secrets the agent may accept instead, during a
	// secret rotation: a request the agent answers with 401 is signed
	// again with each of them in turn (fresh timestamp and nonce) until
	// one is accepted. nil means none, and a 401 is final.
	Fallbacks [][]byte
	// HTTPClient sends the requests. nil means a client with a
	// DefaultClientTimeout timeout that does not follow redirects (a
	// redirect could not carry a valid signature anyway).
	HTTPClient *http.Client
	// Now is the clock for X-Timestamp; nil means time.Now.
	Now func() time.Time
	// Paths is the agent's path family if known (remembered from an
	// earlier client); PathsUnknown means find it out.
	Paths PathFamily
}

// Client is the controller's way to one agent: every request signed, every
// answer typed. It is safe for concurrent use.
//
// Seed endpoints are called where the agent serves them: bare or under
// /v1 (its PathFamily, found out on first contact and again when a path
// turns out not to be served; see Paths); extensions under /v1. A peer key in a path is sent as raw
// standard base64, as the seed's controller sends it: then the raw and the
// percent-decoded path are the same string, so an agent that verifies
// either form accepts the signature. The signature covers exactly the path
// on the request line. Requests without a body send none.
//
// Secrets: requests are signed with the first of the Client's secrets
// (ClientConfig.Secret, later SetSecrets); a 401 answer makes it sign the
// request again with each other secret it holds then, in turn. A 401 is
// given before anything is done, so the repeat is safe for every method.
//
// X-Nonce is sent once a Health answer has advertised CapNonce. Before its
// first other request a Client calls Health itself, so it knows; if that
// fails it sends no nonce and asks again before the next request.
//
// Errors: a non-2xx answer is an *APIError (errors.Is works with
// ErrNotFound, ErrConflict, ErrBadRequest, ErrUnauthorized); everything
// else is wrapped with "agent <host>: METHOD PATH: ". No error carries the
// secret.
type Client struct {
	base   *url.URL // scheme and host; path prefix in prefix
	prefix string   // escaped path prefix without trailing "/", or ""
	hc     *http.Client
	now    func() time.Time

	mu        sync.Mutex // guards the five fields below
	secrets   [][]byte   // the first signs; the others are tried after a 401
	capsKnown bool       // a Health answer has been seen
	useNonce  bool       // the last Health answer advertised CapNonce
	bulkMax   int64      // the last Health answer's MaxBulkBodyBytes, with CapBulkBody; else 0
	paths     PathFamily // where the seed endpoints are served
}

// NewClient returns a Client for cfg. It fails when BaseURL is not an http
// or https URL with a host, or Secret is empty.
func NewClient(cfg ClientConfig) (*Client, error) {
	if len(cfg.Secret) == 0 {
		return nil, errors.New("agentapi: client needs a secret")
	}
	if !cfg.Paths.Valid() {
		return nil, fmt.Errorf("agentapi: unknown path family %q", cfg.Paths)
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("agentapi: invalid agent URL: %w", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("agentapi: agent URL %q: scheme must be http or https", cfg.BaseURL)
	case u.Host == "" || u.Hostname() == "":
		return nil, fmt.Errorf("agentapi: agent URL %q has no host", cfg.BaseURL)
	case u.User != nil:
		return nil, errors.New("agentapi: agent URL must not carry user info")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.Opaque != "":
		return nil, fmt.Errorf("agentapi: agent URL %q must not have a query or fragment", cfg.BaseURL)
	}
	c := &Client{
		base:   &url.URL{Scheme: u.Scheme, Host: u.Host},
		prefix: strings.TrimRight(u.EscapedPath(), "/"),
		hc:     cfg.HTTPClient,
		now:    cfg.Now,
		paths:  cfg.Paths,
	}
	if err := c.SetSecrets(cfg.Secret, cfg.Fallbacks...); err != nil {
		return nil, err
	}
	if c.hc == nil {
		c.hc = &http.Client{
			Timeout: DefaultClientTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		}
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// SetSecrets replaces the secrets the Client signs with: secret signs,
// the fallbacks are tried in turn after a 401 (see ClientConfig). Requests
// already sent keep the secret they were signed with; if that one is
// refused, they are signed again with the secrets set here. It fails,
// changing nothing, when secret or a fallback is empty. The slices are
// copied.
func (c *Client) SetSecrets(secret []byte, fallbacks ...[]byte) error {
	if len(secret) == 0 {
		return errors.New("agentapi: client needs a secret")
	}
	list := make([][]byte, 0, 1+len(fallbacks))
	list = append(list, bytes.Clone(secret))
	for _, f := range fallbacks {
		if len(f) == 0 {
			return errors.New("agentapi: empty fallback secret")
		}
		list = append(list, bytes.Clone(f))
	}
	c.mu.Lock()
	c.secrets = list
	c.mu.Unlock()
	return nil
}

// currentSecrets returns the secrets as they are now; the caller must not
// modify them.
func (c *Client) currentSecrets() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.secrets
}

// Health calls GET /health and remembers whether the agent takes nonces.
func (c *Client) Health(ctx context.Context) (Health, error) {
	var h Health
	if err := c.do(ctx, http.MethodGet, "/health", nil, &h, c.nonce()); err != nil {
		return Health{}, err
	}
	c.mu.Lock()
	c.capsKnown, c.useNonce = true, h.HasCapability(CapNonce)
	c.bulkMax = 0
	if h.HasCapability(CapBulkBody) && h.HasCapability(CapNonce) {
		c.bulkMax = h.MaxBulkBodyBytes
	}
	c.mu.Unlock()
	return h, nil
}

// MaxBodyBytes is the largest replace-all body (SyncPeers) the agent
// takes, as its last Health answer advertised: MaxBulkBodyBytes of an
// agent with CapBulkBody, else MaxBodyBytes.
func (c *Client) MaxBodyBytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return max(MaxBodyBytes, c.bulkMax)
}

// Dump calls GET /wg/{iface}/dump (under /v1 for a PathsV1 agent).
func (c *Client) Dump(ctx context.Context, iface string) (Dump, error) {
	var d Dump
	err := c.seed(ctx, http.MethodGet, iface, "/dump", nil, &d)
	return d, err
}

// AddPeer calls POST /wg/{iface}/peers. A 2xx answer without a body is a
// success with a zero StatusResponse.
func (c *Client) AddPeer(ctx context.Context, iface string, req AddPeerRequest) (StatusResponse, error) {
	var s StatusResponse
	err := c.seed(ctx, http.MethodPost, iface, "/peers", req, &s)
	return s, err
}

// UpdatePeer calls PUT /wg/{iface}/peers/{key}.
func (c *Client) UpdatePeer(ctx context.Context, iface string, key wgtypes.Key, req UpdatePeerRequest) error {
	return c.seed(ctx, http.MethodPut, iface, "/peers/"+key.String(), req, nil)
}

// DeletePeer calls DELETE /wg/{iface}/peers/{key}.
func (c *Client) DeletePeer(ctx context.Context, iface string, key wgtypes.Key) error {
	return c.seed(ctx, http.MethodDelete, iface, "/peers/"+key.String(), nil, nil)
}

// Interface calls GET /v1/wg/{iface}.
func (c *Client) Interface(ctx context.Context, iface string) (InterfaceInfo, error) {
	var info InterfaceInfo
	err := c.call(ctx, http.MethodGet, iface, "/v1", "", nil, &info)
	return info, err
}

// Peers calls GET /v1/wg/{iface}/peers.
func (c *Client) Peers(ctx context.Context, iface string) (PeerList, error) {
	var l PeerList
	err := c.call(ctx, http.MethodGet, iface, "/v1", "/peers", nil, &l)
	return l, err
}

// Peer calls GET /v1/wg/{iface}/peers/{key}.
func (c *Client) Peer(ctx context.Context, iface string, key wgtypes.Key) (Peer, error) {
	var p Peer
	err := c.call(ctx, http.MethodGet, iface, "/v1", "/peers/"+key.String(), nil, &p)
	return p, err
}

// SyncPeers calls PUT /v1/wg/{iface}/peers, making req.Peers the whole peer
// set of the interface. A nil req.Peers is sent as [] and so removes every
// peer, as an empty slice does.
func (c *Client) SyncPeers(ctx context.Context, iface string, req SyncRequest) (SyncResult, error) {
	if req.Peers == nil {
		req.Peers = []PeerSpec{}
	}
	var r SyncResult
	err := c.call(ctx, http.MethodPut, iface, "/v1", "/peers", req, &r)
	return r, err
}

// call sends a request to prefix + "/wg/" + iface + rest, learning the
// agent's capabilities first if need be.
func (c *Client) call(ctx context.Context, method, iface, prefix, rest string, in, out any) error {
	path := prefix + "/wg/" + iface + rest
	if err := wgrules.CheckInterfaceName(iface); err != nil {
		return fmt.Errorf("agent %s: %s %s: %w: %w", c.base.Host, method, path, ErrBadRequest, err)
	}
	return c.do(ctx, method, path, in, out, c.learnedNonce(ctx))
}

// learnedNonce returns nonce(), first calling Health if no answer of it
// has been seen, so that the capabilities are known.
func (c *Client) learnedNonce(ctx context.Context) string {
	c.mu.Lock()
	known := c.capsKnown
	c.mu.Unlock()
	if !known {
		// Only to learn the capabilities; if the agent is down, the request
		// that follows says so.
		_, _ = c.Health(ctx)
	}
	return c.nonce()
}

// nonce returns a fresh nonce if the agent takes them, or "".
func (c *Client) nonce() string {
	c.mu.Lock()
	use := c.useNonce
	c.mu.Unlock()
	if !use {
		return ""
	}
	return newNonce()
}

// do signs and sends one request with the first of the Client's secrets
// and, when the agent answers 401, again with each other secret it holds
// then (see SetSecrets); nonce is "" for none, else a fresh one is drawn
// for each repeat.
func (c *Client) do(ctx context.Context, method, path string, in, out any, nonce string) error {
	secrets := c.currentSecrets()
	used := secrets[0]
	err := c.doOnce(ctx, used, method, path, in, out, nonce)
	tried := [][]byte{used}
	for err != nil && errors.Is(err, ErrUnauthorized) && ctx.Err() == nil {
		// The secrets may have changed while the request was out: a
		// rotation finished and the one it was signed with is gone.
		next := nextSecret(c.currentSecrets(), tried)
		if next == nil {
			break
		}
		tried = append(tried, next)
		if nonce != "" {
			nonce = newNonce()
		}
		err = c.doOnce(ctx, next, method, path, in, out, nonce)
	}
	return err
}

// nextSecret is the first of secrets not in tried, or nil.
func nextSecret(secrets, tried [][]byte) []byte {
	for _, s := range secrets {
		if !slices.ContainsFunc(tried, func(t []byte) bool { return bytes.Equal(t, s) }) {
			return s
		}
	}
	return nil
}

// doOnce signs one request with secret and sends it. path is escaped and
// relative to the base URL; in, if not nil, is sent as JSON; out, if not
// nil, receives the answer.
func (c *Client) doOnce(ctx context.Context, secret []byte, method, path string, in, out any, nonce string) error {
	fail := func(err error) error {
		return fmt.Errorf("agent %s: %s %s: %w", c.base.Host, method, path, err)
	}

	u := *c.base
	u.RawPath = c.prefix + path
	p, err := url.PathUnescape(u.RawPath)
	if err != nil {
		return fail(err)
	}
	u.Path = p
	signedPath := u.EscapedPath()
	if signedPath != u.RawPath { // net/http would send another path than the one built
		return fail(fmt.Errorf("path %q does not survive URL encoding", u.RawPath))
	}

	var body []byte
	if in != nil {
		if body, err = json.Marshal(in); err != nil {
			return fail(fmt.Errorf("encoding request: %w", err))
		}
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base.String(), rd)
	if err != nil {
		return fail(err)
	}
	req.URL = &u
	ts := strconv.FormatInt(c.now().Unix(), 10)
	req.Header.Set(HeaderTimestamp, ts)
	signedBody := body
	if len(body) > MaxBodyBytes && nonce != "" && int64(len(body)) <= c.MaxBodyBytes() {
		// Signed over its digest, so the agent authenticates it before
		// reading it (bulk.go).
		d := sha256.Sum256(body)
		req.Header.Set(HeaderContentSHA256, hex.EncodeToString(d[:]))
		signedBody = bulkMessageBody(hex.EncodeToString(d[:]))
	}
	req.Header.Set(HeaderSignature, Sign(secret, method, signedPath, signedBody, ts, nonce))
	if nonce != "" {
		req.Header.Set(HeaderNonce, nonce)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")

	resp, err := c.hc.Do(req)
	if err != nil {
		return fail(err)
	}
	defer resp.Body.Close()
	if d, ok := freshDump(out); ok && resp.StatusCode >= 200 && resp.StatusCode <= 299 &&
		resp.ContentLength >= minSplitBytes && resp.ContentLength <= maxResponseBytes {
		// A large dump: decoded while it is read (readDump), as decodeAnswer would.
		got, err := readDump(io.LimitReader(resp.Body, maxResponseBytes+1), int(resp.ContentLength), minSplitBytes)
		switch {
		case err != nil:
			return fail(fmt.Errorf("reading answer: %w", err))
		case len(got.data) > maxResponseBytes:
			return fail(fmt.Errorf("answer exceeds %d bytes", maxResponseBytes))
		case got.err != nil:
			return fail(fmt.Errorf("decoding answer: %w", got.err))
		}
		*d = got.dump
		return nil
	}
	data, err := readAnswer(resp)
	if err != nil {
		return fail(fmt.Errorf("reading answer: %w", err))
	}
	if len(data) > maxResponseBytes {
		return fail(fmt.Errorf("answer exceeds %d bytes", maxResponseBytes))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fail(newAPIError(resp.StatusCode, resp.Header.Get("Content-Type"), data))
	}
	if out == nil || (method != http.MethodGet && len(bytes.TrimSpace(data)) == 0) {
		return nil
	}
	if err := decodeAnswer(data, out); err != nil {
		return fail(fmt.Errorf("decoding answer: %w", err))
	}
	return nil
}

// readAnswer reads the body of resp, up to one byte more than
// maxResponseBytes, into a buffer of the length it announces if it does
// (a dump of 10k peers is 2.4 MB: grown from nothing, it would be copied
// over and over).
func readAnswer(resp *http.Response) ([]byte, error) {
	var b bytes.Buffer
	if n := resp.ContentLength; n > 0 && n <= maxResponseBytes {
		b.Grow(int(n) + bytes.MinRead) // room for the read that finds the end
	}
	_, err := b.ReadFrom(io.LimitReader(resp.Body, maxResponseBytes+1))
	return b.Bytes(), err
}

// freshDump is out as a *Dump holding nothing yet: the answers DecodeDump
// (and readDump, for a large one) may decode in place of json.Unmarshal.
func freshDump(out any) (*Dump, bool) {
	d, ok := out.(*Dump)
	return d, ok && d.Interface == "" && d.Peers == nil
}

// decodeAnswer is json.Unmarshal(data, out), through DecodeDump for a
// dump (out a *Dump holding nothing yet).
func decodeAnswer(data []byte, out any) error {
	if d, ok := freshDump(out); ok {
		var err error
		*d, err = DecodeDump(data)
		return err
	}
	return json.Unmarshal(data, out)
}
