package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/wgfleet/wgfleet/agent/agentapi"
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
	return s.probe(ctx, n.AgentURL, n.Secret, n.WGInterface), nil
}

// TestConnection checks an agent before it is saved as a node: agentURL,
// secret and iface are validated as CreateNode would (iface "" means
// wg0), then the agent must answer /health to the secret and serve iface
// (GET /wg/{iface}/dump).
func (s *Service) TestConnection(ctx context.Context, agentURL, secret, iface string) (TestResult, error) {
	u, err := checkAgentURL(agentURL)
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
	return s.probe(ctx, u, []byte(secret), iface), nil
}

// probe runs the connection test. Messages quote agent errors, which never
// carry the secret.
func (s *Service) probe(ctx context.Context, agentURL string, secret []byte, iface string) TestResult {
	c, err := s.agentClient(agentURL, secret)
	if err != nil {
		return TestResult{Message: err.Error()}
	}
	ctx, cancel := context.WithTimeout(ctx, s.agentTimeout)
	defer cancel()

	start := s.now()
	h, err := c.Health(ctx)
	latency := s.now().Sub(start).Milliseconds()
	if err != nil {
		return TestResult{LatencyMS: latency, Message: describeAgentError(agentURL, err)}
	}
	res := TestResult{LatencyMS: latency, Version: h.Version}
	for _, i := range h.Interfaces {
		res.Interfaces = append(res.Interfaces, i.Name)
	}
	if raw, err := json.Marshal(h); err == nil {
		res.Health = raw
	}
	d, err := c.Dump(ctx, iface)
	switch {
	case errors.Is(err, agentapi.ErrNotFound):
		res.Message = fmt.Sprintf("the agent answers, but has no interface %q", iface)
		if len(res.Interfaces) > 0 {
			res.Message += "; it serves " + strings.Join(res.Interfaces, ", ")
		}
		return res
	case err != nil:
		res.Message = "the agent answers /health, but listing interface " + iface + " failed: " + describeAgentError(agentURL, err)
		return res
	}
	res.OK = true
	res.Message = fmt.Sprintf("agent %s (version %s) answered in %d ms; interface %s has %d peers",
		agentURL, h.Version, latency, iface, len(d.Peers))
	return res
}

// describeAgentError says in words what went wrong talking to an agent.
func describeAgentError(agentURL string, err error) string {
	var apiErr *agentapi.APIError
	switch {
	case errors.Is(err, agentapi.ErrUnauthorized):
		return "the agent refused the request's signature: check the secret and that the clocks agree (" + err.Error() + ")"
	case errors.As(err, &apiErr):
		return "the agent answered with an error: " + apiErr.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return "no answer from " + agentURL + " in time"
	}
	return "cannot reach the agent at " + agentURL + ": " + err.Error()
}
