package agent

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/container"
	"github.com/wgfleet/wgfleet/tunnel/egress"
	"github.com/wgfleet/wgfleet/wgrules"
)

// Defaults of the agent's configuration.
const (
	DefaultListen     = ":8080"
	DefaultIface      = "wg0"
	DefaultListenPort = 51820
	DefaultMode       = container.ModeAuto
	DefaultStateDir   = "/var/lib/wg-agent"

	// DefaultMaxConnections bounds the API's open connections: far more
	// than one controller needs, few enough that each one's buffers (some
	// 10 KiB, and up to smallBody of body) stay small.
	DefaultMaxConnections = 256
	// DefaultUnauthBodyBudget is 8 bodies of the largest size.
	DefaultUnauthBodyBudget = 8 << 20
)

// Config is the agent's validated configuration.
type Config struct {
	// Listen is the API's TCP address, host:port.
	Listen string
	// MetricsListen is the TCP address, host:port, of a second listener
	// that serves Prometheus metrics at GET /metrics without
	// authentication; bind it to a private address. "" means no metrics
	// listener. Port 0 picks a free port (see Agent.MetricsAddr).
	MetricsListen string
	// Secrets are the shared HMAC secrets; a request signed with any of them
	// is accepted (so a secret can be rotated without downtime).
	Secrets [][]byte
	// StateDir holds each interface's private key and peer state, and
	// the self-signed certificate of TLSAuto.
	StateDir string
	// TLS is how the API is served: plain HTTP (the zero value, TLSOff) or
	// HTTPS. Signing stays on inside TLS. The metrics listener is always
	// plain HTTP.
	TLS TLSConfig
	// Mode is auto, tun or netstack; an interface may override it.
	Mode container.Mode
	// Interfaces are the WireGuard interfaces to run; at least one.
	Interfaces []InterfaceConfig
	// SignatureWindow is how far a request's timestamp may be from the
	// agent's clock; 0 means 300 s.
	SignatureWindow time.Duration
	// ShutdownTimeout bounds the HTTP drain at shutdown; 0 means 10 s.
	ShutdownTimeout time.Duration
	// MaxConnections bounds the API's open connections; more wait to be
	// accepted. 0 means DefaultMaxConnections.
	MaxConnections int
	// UnauthBodyBudget bounds the bytes of request bodies buffered before
	// their signature is checked, all requests together; bodies of at most
	// smallBody bytes do not count (MaxConnections bounds them). 0 means
	// DefaultUnauthBodyBudget; it is at least the largest body, 1 MiB.
	UnauthBodyBudget int64
	// UAPIDir is where TUN-mode interfaces serve their UAPI socket; "" means
	// /var/run/wireguard.
	UAPIDir string
	// Logger receives the agent's logs; nil discards them.
	Logger *slog.Logger
	// Environment, when set, replaces detection of the runtime environment
	// (for tests); nil means container.Detect().
	Environment *container.Environment
}

// InterfaceConfig is one WireGuard interface.
type InterfaceConfig struct {
	Name       string
	Addresses  []netip.Prefix
	ListenPort int // 0 picks a free port
	MTU        int
	Mode       container.Mode // "" inherits Config.Mode

	// Routing of a netstack interface (see tunnel/forward); a TUN
	// interface is routed by the host, whose firewall decides instead.
	// EgressAllow, when not empty, is all peers may reach; EgressDeny is
	// refused whatever EgressAllow says. The host's loopback and the
	// agent's API port are refused unless allowed explicitly.
	EgressAllow []egress.Rule
	EgressDeny  []egress.Rule
	// Limits of forwarding; zero values select the defaults of package
	// forward.
	MaxTCPConns    int
	MaxUDPFlows    int
	TCPIdleTimeout time.Duration
	UDPIdleTimeout time.Duration
}

// Validate checks the configuration in full and says what is wrong.
func (c *Config) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("listen address %q: %w", c.Listen, err))
	}
	if err := checkMetricsListen(c.MetricsListen, c.Listen); err != nil {
		errs = append(errs, err)
	}
	if c.MaxConnections < 0 {
		errs = append(errs, fmt.Errorf("max connections %d is negative", c.MaxConnections))
	}
	if c.UnauthBodyBudget != 0 && c.UnauthBodyBudget < agentapi.MaxBodyBytes {
		errs = append(errs, fmt.Errorf("unauthenticated body budget %d is below the largest body, %d bytes", c.UnauthBodyBudget, agentapi.MaxBodyBytes))
	}
	if len(c.Secrets) == 0 {
		errs = append(errs, errors.New("no secret: set WG_AGENT_SECRET or --secret-file"))
	}
	for i, s := range c.Secrets {
		if err := agentapi.CheckSecret(s); err != nil {
			errs = append(errs, fmt.Errorf("secret %d %w", i+1, err))
		}
	}
	if c.StateDir == "" {
		errs = append(errs, errors.New("state directory is required"))
	}
	if err := checkMode(c.Mode); err != nil {
		errs = append(errs, err)
	}
	if err := c.TLS.check(); err != nil {
		errs = append(errs, err)
	}
	if len(c.Interfaces) == 0 {
		errs = append(errs, errors.New("at least one interface is required"))
	}
	seenName := map[string]bool{}
	seenPort := map[int]bool{}
	for _, ic := range c.Interfaces {
		if err := wgrules.CheckInterfaceName(ic.Name); err != nil {
			errs = append(errs, err)
		}
		if seenName[ic.Name] {
			errs = append(errs, fmt.Errorf("interface %q is configured twice", ic.Name))
		}
		seenName[ic.Name] = true
		if ic.ListenPort < 0 || ic.ListenPort > 65535 {
			errs = append(errs, fmt.Errorf("interface %s: listen port %d is out of range", ic.Name, ic.ListenPort))
		} else if ic.ListenPort != 0 {
			if seenPort[ic.ListenPort] {
				errs = append(errs, fmt.Errorf("interface %s: listen port %d is used by another interface", ic.Name, ic.ListenPort))
			}
			seenPort[ic.ListenPort] = true
		}
		if ic.MTU != 0 && (ic.MTU < wgrules.MinMTU || ic.MTU > wgrules.MaxMTU) {
			errs = append(errs, fmt.Errorf("interface %s: MTU %d is out of range %d-%d", ic.Name, ic.MTU, wgrules.MinMTU, wgrules.MaxMTU))
		}
		if ic.Mode != "" {
			if err := checkMode(ic.Mode); err != nil {
				errs = append(errs, fmt.Errorf("interface %s: %w", ic.Name, err))
			}
		}
		if ic.MaxTCPConns < 0 || ic.MaxUDPFlows < 0 {
			errs = append(errs, fmt.Errorf("interface %s: connection limits must not be negative", ic.Name))
		}
		if ic.TCPIdleTimeout < 0 || ic.UDPIdleTimeout < 0 {
			errs = append(errs, fmt.Errorf("interface %s: idle timeouts must not be negative", ic.Name))
		}
		for _, a := range ic.Addresses {
			if !a.IsValid() || a.Addr().Is4In6() || a.Addr().Zone() != "" {
				errs = append(errs, fmt.Errorf("interface %s: address %v is not valid", ic.Name, a))
			}
		}
	}
	return errors.Join(errs...)
}

// checkMetricsListen checks the metrics address: "" (off) or host:port
// with a numeric port, not the API's own address.
func checkMetricsListen(addr, api string) error {
	if addr == "" {
		return nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("metrics listen address %q: %w", addr, err)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return fmt.Errorf("metrics listen address %q: port %q is not a number from 0 to 65535", addr, port)
	}
	if n == 0 {
		return nil
	}
	apiHost, apiPort, err := net.SplitHostPort(api)
	if err != nil || apiPort != port {
		return nil
	}
	if host == apiHost || isWildcardHost(host) || isWildcardHost(apiHost) {
		return fmt.Errorf("metrics listen address %q overlaps the API's %q: use another port", addr, api)
	}
	return nil
}

// isWildcardHost reports whether a listen host means every address.
func isWildcardHost(h string) bool {
	if h == "" {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.IsUnspecified()
}

func checkMode(m container.Mode) error {
	switch m {
	case container.ModeAuto, container.ModeTUN, container.ModeNetstack:
		return nil
	}
	return fmt.Errorf("mode %q must be auto, tun or netstack", m)
}
