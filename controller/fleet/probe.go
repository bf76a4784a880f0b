package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/controller/agentclient"
	"github.com/wgfleet/wgfleet/controller/store"
)

// TestNode checks a saved node's agent: that it answers /health to the
// node's secret and serves the node's interface. An agent that fails is a
// TestResult with OK false and a message saying what failed, not an
// error; the error is for an unknown node (store.ErrNotFound). Nothing is
// written.
func (s *Service) TestNode(ctx context.Context, id int64) (TestResult, error) {
	n, err := s.store.GetNode(ctx, id)
	if err != nil {
		return TestResult{}, fmt.Errorf("testing node %d: %w", id, err)
	}
	c, err := s.agents.For(n)
	if err != nil {
		return TestResult{Message: err.Error()}, nil
	}
	health := func(ctx context.Context) (agentapi.Health, error) { return s.agents.Health(ctx, n) }
	return s.probe(ctx, c, health, n.AgentURL, n.WGInterface), nil
}

// TestConnection checks an agent before it is saved as a node: agentURL,
// secret, iface and pin are validated as CreateNode would (iface "" means
// wg0, pin "" none), then the agent must answer /health to the secret and
// serve iface (GET /wg/{iface}/dump), over a connection pinned to pin
// when one is given.
func (s *Service) TestConnection(ctx context.Context, agentURL, secret, iface, pin string) (TestResult, error) {
	u, err := checkAgentURL(agentURL)
	if err != nil {
		return TestResult{}, err
	}
	fp, err := checkTLSFingerprint(pin, u)
	if err != nil {
		return TestResult{}, err
	}
	if err := checkSecret(secret); err != nil {
		return TestResult{}, err
	}
	if iface == "" {
		iface = store.DefaultWGInterface
	}
	if err := checkInterface(iface); err != nil {
		return TestResult{}, err
	}
	c, err := s.agents.Probe(u, []byte(secret), fp)
	if err != nil {
		return TestResult{Message: err.Error()}, nil
	}
	return s.probe(ctx, c, c.Health, u, iface), nil
}

// probe runs the connection test of the agent at agentURL through c;
// health asks it for /health (for a node, through Agents, which remembers
// what it advertised). Messages quote agent errors, which never carry the
// secret. An https agent's certificate fingerprint is read first, to be
// shown whatever the outcome.
func (s *Service) probe(ctx context.Context, c *agentapi.Client, health func(context.Context) (agentapi.Health, error), agentURL, iface string) TestResult {
	ctx, cancel := context.WithTimeout(ctx, s.agentTimeout)
	defer cancel()

	var presented string
	if u, err := url.Parse(agentURL); err == nil && u.Scheme == "https" {
		if fp, err := s.agents.PresentedFingerprint(ctx, agentURL); err == nil {
			presented = fp.String()
		}
	}
	start := s.now()
	h, err := health(ctx)
	latency := s.now().Sub(start).Milliseconds()
	if err != nil {
		return TestResult{LatencyMS: latency, Message: agentclient.Describe(agentURL, err), Detail: err.Error(), TLSFingerprint: presented}
	}
	res := TestResult{LatencyMS: latency, Version: h.Version, TLSFingerprint: presented}
	for _, i := range h.Interfaces {
		res.Interfaces = append(res.Interfaces, i.Name)
	}
	if raw, err := json.Marshal(h); err == nil {
		res.Health = raw
	}
	d, err := c.Dump(ctx, iface)
	res.APIPaths = string(c.Paths())
	where := "/wg/" + iface
	if c.Paths() == agentapi.PathsV1 {
		where = "/v1/wg/" + iface
	}
	switch {
	case errors.Is(err, agentapi.ErrNotFound):
		res.Message = fmt.Sprintf("the agent answers, but has no interface %q", iface)
		if len(res.Interfaces) > 0 {
			res.Message += "; it serves " + strings.Join(res.Interfaces, ", ")
		}
		return res
	case err != nil:
		res.Message = "The agent answers /health, but listing interface " + iface + " failed: " + agentclient.Describe(agentURL, err)
		res.Detail = err.Error()
		return res
	}
	res.OK = true
	res.Message = fmt.Sprintf("agent %s (version %s) answered in %d ms; interface %s has %d peers; it serves its peers at %s",
		agentURL, h.Version, latency, iface, len(d.Peers), where)
	return res
}
