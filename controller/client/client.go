package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultTimeout bounds one call when Config.Timeout is 0.
const DefaultTimeout = 30 * time.Second

// maxAnswer bounds an answer's body: a page of 1000 peers is far less.
const maxAnswer = 64 << 20

// Config says which controller to call and how.
type Config struct {
	// URL is the controller's base URL, http:// or https://, with the path
	// it is served under behind a proxy, if any ("https://vpn.example/wg").
	// A bare host:port means http://host:port.
	URL string
	// Token is an API token (docs/API.md), sent as a bearer credential;
	// "" sends none, and the controller answers 401.
	Token string
	// Timeout bounds each call; 0 means DefaultTimeout.
	Timeout time.Duration
	// HTTPClient sends the requests; nil means a client of its own.
	HTTPClient *http.Client
}

// Client calls one controller's REST API. It is safe for concurrent use.
type Client struct {
	base    string // scheme://host[/prefix], no trailing slash
	token   string
	timeout time.Duration
	hc      *http.Client
}

// New checks cfg and returns a client. It makes no call.
func New(cfg Config) (*Client, error) {
	base, err := parseBase(cfg.URL)
	if err != nil {
		return nil, err
	}
	c := &Client{base: base, token: cfg.Token, timeout: cfg.Timeout, hc: cfg.HTTPClient}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.hc == nil {
		c.hc = &http.Client{}
	}
	return c, nil
}

// URL is the controller's base URL as the client calls it.
func (c *Client) URL() string { return c.base }

// parseBase reads the controller's URL.
func parseBase(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", errors.New("no controller URL given")
	}
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("controller URL %q is not an http:// or https:// URL with a host", raw)
	}
	if u.User != nil {
		return "", errors.New("the controller URL must not carry credentials: give an API token instead")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("controller URL %q: no query or fragment, please", raw)
	}
	return u.Scheme + "://" + u.Host + strings.TrimRight(u.EscapedPath(), "/"), nil
}

// envelope is the API's answer format (docs/API.md, "The envelope").
type envelope struct {
	Status  bool            `json:"status"`
	Message *string         `json:"message"`
	Data    json.RawMessage `json:"data"`
}

// call sends method path?query with body (nil for none) as JSON and
// decodes the answer's data into out (nil to ignore it). It returns the
// answer's message ("" when null).
func (c *Client) call(ctx context.Context, method, path string, query url.Values, body, out any) (string, error) {
	resp, cancel, err := c.send(ctx, method, path, query, body, "application/json")
	if err != nil {
		return "", err
	}
	defer cancel()
	defer resp.Body.Close()
	env, err := c.decode(resp)
	if err != nil {
		return "", err
	}
	msg := ""
	if env.Message != nil {
		msg = *env.Message
	}
	if out != nil && len(env.Data) > 0 {
		if err := json.Unmarshal(env.Data, out); err != nil {
			return msg, fmt.Errorf("reading the answer to %s %s: %w", method, path, err)
		}
	}
	return msg, nil
}

// send makes and sends one request; the caller closes the body and then
// calls cancel.
func (c *Client) send(ctx context.Context, method, path string, query url.Values, body any, accept string) (*http.Response, context.CancelFunc, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, nil, fmt.Errorf("encoding the request to %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	target := c.base + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		cancel()
		return nil, nil, fmt.Errorf("making the request %s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("User-Agent", "wgfleet-client")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		canceled := errors.Is(ctx.Err(), context.Canceled) // the caller's doing, not the timeout's
		cancel()
		if canceled {
			return nil, nil, ctx.Err()
		}
		return nil, nil, unreachable(c.base, err)
	}
	return resp, cancel, nil
}

// decode reads resp as the API's envelope: an *APIError for an error
// status, an *UnreachableError when the answer is not the API's.
func (c *Client) decode(resp *http.Response) (envelope, error) {
	var env envelope
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return env, unreachable(c.base, err)
	}
	if mt != "application/json" || json.Unmarshal(raw, &env) != nil {
		what := mt
		if what == "" {
			what = "no content type"
		}
		return env, &UnreachableError{URL: c.base,
			Reason: fmt.Sprintf("something that is not a wgfleet controller answered %d (%s)", resp.StatusCode, what)}
	}
	if resp.StatusCode >= 300 {
		e := &APIError{Status: resp.StatusCode}
		if env.Message != nil {
			e.Message = *env.Message
		}
		var d struct {
			Field string `json:"field"`
		}
		if json.Unmarshal(env.Data, &d) == nil {
			e.Field = d.Field
		}
		return env, e
	}
	return env, nil
}
