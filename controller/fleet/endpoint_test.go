package fleet

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/agentclient"
	"github.com/wgfleet/wgfleet/controller/store"
)

// serviceDialing is a Service on e's store whose agent connections go to
// the loopback port of the host:port asked for, whatever the host: so a
// real agent on loopback answers at any name. publicURL is the
// controller's public URL ("" none).
func (e *env) serviceDialing(publicURL string) *Service {
	var d net.Dialer
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		return d.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
	}}}
	return New(Config{Store: e.store, Syncer: e.syncer, PublicURL: publicURL,
		Agents: agentclient.NewPool(agentclient.PoolOptions{Timeout: 3 * time.Second, HTTPClient: hc})})
}

// TestNodeEndpointDerived: a node created without an endpoint gets the
// host of its agent URL and the UDP port the agent's interface listens
// on, asked of the real agent; an agent on loopback gets the host of the
// controller's public URL instead. The answer says the endpoint was
// derived; what is stored is an ordinary endpoint.
func TestNodeEndpointDerived(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a := agenttest.Start(t, agenttest.Options{})
	port := strconv.Itoa(a.Tunnel(a.Iface).ListenPort())
	_, apiPort, err := net.SplitHostPort(a.Addr)
	if err != nil {
		t.Fatal(err)
	}
	in := func(name, agentURL string) NodeInput {
		n := nodeIn(name)
		n.AgentURL, n.Secret, n.Endpoint = ptr(agentURL), ptr(a.Secret), nil
		return n
	}
	for i, tt := range []struct {
		name, publicURL, agentURL, endpoint string
	}{
		{"from the agent URL's host", "", "http://agent7.example.test:" + apiPort, "agent7.example.test:" + port},
		{"from an IPv6 agent URL", "", "http://[2001:db8::7]:" + apiPort, "[2001:db8::7]:" + port},
		{"an agent URL's host is preferred to the public URL's", "https://ctl.example.test", "http://10.20.30.40:" + apiPort, "10.20.30.40:" + port},
		{"a loopback agent is on the controller's machine", "https://vpn.example.test:8443/ui", a.URL, "vpn.example.test:" + port},
		{"localhost too", "https://vpn.example.test", "http://localhost:" + apiPort, "vpn.example.test:" + port},
	} {
		t.Run(tt.name, func(t *testing.T) {
			svc := e.serviceDialing(tt.publicURL)
			v, err := svc.CreateNode(ctx, actor, in("derived-"+strconv.Itoa(i), tt.agentURL))
			if err != nil {
				t.Fatal(err)
			}
			if v.Endpoint != tt.endpoint || !v.EndpointDerived {
				t.Fatalf("created with endpoint %q (derived %v), want %q derived", v.Endpoint, v.EndpointDerived, tt.endpoint)
			}
			got, err := svc.GetNode(ctx, v.ID)
			if err != nil || got.Endpoint != tt.endpoint || got.EndpointDerived {
				t.Fatalf("read back: endpoint %q derived %v, %v", got.Endpoint, got.EndpointDerived, err)
			}
		})
	}

	// A given endpoint is kept as given, and not said to be derived.
	given := in("given", a.URL)
	given.Endpoint = ptr("vpn.example.net:443")
	if v := e.createNode(t, given); v.Endpoint != "vpn.example.net:443" || v.EndpointDerived {
		t.Fatalf("a given endpoint: %q derived %v", v.Endpoint, v.EndpointDerived)
	}
}

// TestNodeEndpointNotDerived: when the endpoint cannot be derived, the
// node is refused on "endpoint" with the reason and what to give; a name
// already taken is a conflict before any agent is asked.
func TestNodeEndpointNotDerived(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a := agenttest.Start(t, agenttest.Options{})
	_, apiPort, err := net.SplitHostPort(a.Addr)
	if err != nil {
		t.Fatal(err)
	}
	in := func(agentURL string) NodeInput {
		n := nodeIn("underived")
		n.AgentURL, n.Secret, n.Endpoint = ptr(agentURL), ptr(a.Secret), nil
		return n
	}
	wrongSecret := in("http://agent8.example.test:" + apiPort)
	wrongSecret.Secret = ptr(agenttest.RandomSecret())
	otherIface := in("http://agent8.example.test:" + apiPort)
	otherIface.WGInterface = ptr("wg9")
	for _, tt := range []struct {
		name      string
		publicURL string
		in        NodeInput
		want      string
	}{
		{"a loopback agent, no public URL", "", in(a.URL), "the agent's host 127.0.0.1 is this machine's own address, which clients cannot dial"},
		{"a loopback agent, a loopback public URL", "http://127.0.0.1:8080", in(a.URL), "clients cannot dial"},
		{"an unspecified host", "", in("http://0.0.0.0:" + apiPort), "the agent's host 0.0.0.0 is this machine's own address"},
		{"an agent that does not answer", "", in("http://agent8.example.test:1"), "Cannot reach the agent at agent8.example.test:1 (connection refused)"},
		{"a wrong secret", "", wrongSecret, "refused the request's signature"},
		{"an interface the agent does not serve", "", otherIface, "asking the agent for interface wg9"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.serviceDialing(tt.publicURL).CreateNode(ctx, actor, tt.in)
			wantField(t, err, "endpoint")
			if msg := err.Error(); !strings.Contains(msg, tt.want) || !strings.Contains(msg, "give the host:port that clients dial") {
				t.Fatalf("message %q, want it to say %q and what to give", msg, tt.want)
			}
		})
	}
	if nodes, err := e.svc.ListNodes(ctx); err != nil || len(nodes) != 0 {
		t.Fatalf("nodes after refusals: %d, %v", len(nodes), err)
	}

	e.createNode(t, nodeIn("taken"))
	taken := nodeIn("taken")
	taken.Endpoint = nil
	_, err = e.svc.CreateNode(ctx, actor, taken)
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a taken name without an endpoint: %v, want a conflict", err)
	}
}
