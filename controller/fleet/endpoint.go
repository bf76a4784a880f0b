package fleet

import (
	"context"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/wgfleet/wgfleet/controller/agentclient"
	"github.com/wgfleet/wgfleet/controller/store"
)

// endpointHelp ends every refusal of a missing endpoint: what to give.
const endpointHelp = "give the host:port that clients dial, e.g. vpn.example.net:51820 (the node's public address and its WireGuard listen port)"

// deriveEndpoint is the endpoint of node n created without one: the host
// of its agent URL and the UDP port its interface listens on, which the
// agent is asked for (/health, else its interface). An agent URL whose
// host clients cannot dial (loopback, unspecified, link-local,
// "localhost") means the agent runs on the controller's machine: the
// host of the controller's public URL stands in for it, when that one is
// dialable. Whatever stops the derivation is a *ValidationError on
// "endpoint" that says why and what to give instead.
func (s *Service) deriveEndpoint(ctx context.Context, n store.Node) (string, error) {
	u, err := url.Parse(n.AgentURL)
	if err != nil {
		return "", Invalid("endpoint", "is required, and cannot be derived from the agent URL (%v); %s", err, endpointHelp)
	}
	host := u.Hostname()
	if !DialableHost(host) {
		pub, err := url.Parse(s.publicURL)
		if s.publicURL == "" || err != nil || !DialableHost(pub.Hostname()) {
			return "", Invalid("endpoint", "is required, and cannot be derived: the agent's host %s is this machine's own address, which clients cannot dial, and the controller has no public URL to stand for it; %s",
				host, endpointHelp)
		}
		host = pub.Hostname()
	}
	c, err := s.agents.Probe(n.AgentURL, n.Secret, n.TLSFingerprint)
	if err != nil {
		return "", Invalid("endpoint", "is required, and cannot be derived: %v; %s", err, endpointHelp)
	}
	ctx, cancel := context.WithTimeout(ctx, s.agentTimeout)
	defer cancel()
	h, err := c.Health(ctx)
	if err != nil {
		return "", Invalid("endpoint", "is required, and cannot be derived without asking the agent for its listen port: %s; %s",
			agentclient.Describe(n.AgentURL, err), endpointHelp)
	}
	port := 0
	for _, i := range h.Interfaces {
		if i.Name == n.WGInterface {
			port = i.ListenPort
		}
	}
	if port == 0 { // an agent that does not list its interfaces in /health
		i, err := c.Interface(ctx, n.WGInterface)
		if err != nil {
			return "", Invalid("endpoint", "is required, and cannot be derived: asking the agent for interface %s: %s; %s",
				n.WGInterface, agentclient.Describe(n.AgentURL, err), endpointHelp)
		}
		port = i.ListenPort
	}
	if port <= 0 || port > 65535 {
		return "", Invalid("endpoint", "is required, and cannot be derived: the agent's interface %s has no listen port; %s", n.WGInterface, endpointHelp)
	}
	return net.JoinHostPort(host, strconv.Itoa(port)), nil
}

// DialableHost reports whether clients elsewhere could dial host (an IP
// address or a name, without port or brackets): not
// empty, not a loopback, unspecified or link-local address, not
// "localhost" or a name under it.
func DialableHost(host string) bool {
	if a, err := netip.ParseAddr(host); err == nil {
		return !a.IsLoopback() && !a.IsUnspecified() && !a.IsLinkLocalUnicast()
	}
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	return h != "" && h != "localhost" && !strings.HasSuffix(h, ".localhost")
}
