package forward

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/wgfleet/wgfleet/wgrules"
)

// Defaults of Config. The default MTU is wgrules.DefaultMTU.
const (
	DefaultMaxTCPConns    = 1024
	DefaultMaxUDPFlows    = 1024
	DefaultTCPIdleTimeout = time.Hour
	DefaultUDPIdleTimeout = 2 * time.Minute
	DefaultDialTimeout    = 10 * time.Second
	DefaultResolvConf     = "/etc/resolv.conf"
)

// Fixed bounds of the lighter services.
const (
	maxPingsInFlight = 64
	pingTimeout      = 3 * time.Second
	maxDNSInFlight   = 64
	dnsIdleTimeout   = 10 * time.Second // a DNS flow with no query for this long is closed
	dnsServerTimeout = 2 * time.Second  // per resolver tried
	dnsQueryTimeout  = 5 * time.Second  // per query, all resolvers
)

// Policy decides which destinations peers may reach. Check returns nil to
// allow, else an error saying why not; port is 0 for ICMP. *egress.Policy
// is one.
type Policy interface {
	Check(dst netip.Addr, port uint16) error
}

// PolicyFunc makes a function a Policy.
type PolicyFunc func(dst netip.Addr, port uint16) error

// Check calls f.
func (f PolicyFunc) Check(dst netip.Addr, port uint16) error { return f(dst, port) }

// Config describes a Forwarder. Zero values select the defaults, except
// Policy, which is required.
type Config struct {
	// Addresses are the interface's own addresses with their prefixes, as
	// in tunnel.Config. Packets to these IPs go to the netstack beneath;
	// packets to other IPs of these prefixes go back out to the peers
	// (hub routing); packets to anything else are forwarded.
	Addresses []netip.Prefix
	// MTU is the interface MTU; 0 means wgrules.DefaultMTU.
	MTU int
	// Policy is checked for every TCP connection, UDP flow, ICMP echo and
	// hub-routed packet. Required.
	Policy Policy
	// MaxTCPConns bounds the TCP connections forwarded at once; beyond it
	// new ones are reset. 0 means DefaultMaxTCPConns.
	MaxTCPConns int
	// MaxUDPFlows bounds the UDP flows (one per peer address and port and
	// destination) forwarded at once; beyond it new flows are dropped. 0
	// means DefaultMaxUDPFlows.
	MaxUDPFlows int
	// TCPIdleTimeout closes a TCP connection after this long without data
	// either way; 0 means DefaultTCPIdleTimeout.
	TCPIdleTimeout time.Duration
	// UDPIdleTimeout closes a UDP flow after this long without a datagram
	// either way; 0 means DefaultUDPIdleTimeout.
	UDPIdleTimeout time.Duration
	// DialTimeout bounds connecting to a TCP destination; 0 means
	// DefaultDialTimeout.
	DialTimeout time.Duration
	// Resolvers, when not nil, are the DNS servers that queries to the
	// interface's addresses are sent to, in order; an empty non-nil slice
	// turns DNS forwarding off. nil means the nameservers of ResolvConf,
	// read again when the file changes.
	Resolvers []netip.AddrPort
	// ResolvConf is the resolver configuration file; "" means
	// DefaultResolvConf.
	ResolvConf string
	// Dial opens host connections ("tcp" or "udp"); nil means a
	// net.Dialer. Tests use it to watch or to fail dials. Host sockets
	// (and the ICMP sockets of ping) live in the network namespace of the
	// process's ordinary threads, whatever namespace the tunnel's
	// constructor ran in.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
	// Logger receives debug lines about every refusal, limit and flow;
	// nil discards them.
	Logger *slog.Logger
}

func (c Config) withDefaults() (Config, error) {
	var errs []error
	if c.Policy == nil {
		errs = append(errs, errors.New("no egress policy"))
	}
	if c.MTU == 0 {
		c.MTU = wgrules.DefaultMTU
	}
	if c.MTU < wgrules.MinMTU || c.MTU > wgrules.MaxMTU {
		errs = append(errs, fmt.Errorf("MTU %d not in [%d, %d]", c.MTU, wgrules.MinMTU, wgrules.MaxMTU))
	}
	for _, v := range []struct {
		name string
		n    *int
		def  int
	}{{"MaxTCPConns", &c.MaxTCPConns, DefaultMaxTCPConns}, {"MaxUDPFlows", &c.MaxUDPFlows, DefaultMaxUDPFlows}} {
		if *v.n < 0 {
			errs = append(errs, fmt.Errorf("%s %d is negative", v.name, *v.n))
		} else if *v.n == 0 {
			*v.n = v.def
		}
	}
	for _, v := range []struct {
		name string
		d    *time.Duration
		def  time.Duration
	}{
		{"TCPIdleTimeout", &c.TCPIdleTimeout, DefaultTCPIdleTimeout},
		{"UDPIdleTimeout", &c.UDPIdleTimeout, DefaultUDPIdleTimeout},
		{"DialTimeout", &c.DialTimeout, DefaultDialTimeout},
	} {
		if *v.d < 0 {
			errs = append(errs, fmt.Errorf("%s %v is negative", v.name, *v.d))
		} else if *v.d == 0 {
			*v.d = v.def
		}
	}
	for _, p := range c.Addresses {
		if !p.IsValid() || p.Addr().Is4In6() || p.Addr().Zone() != "" {
			errs = append(errs, fmt.Errorf("address %v is not valid", p))
		}
	}
	c.Addresses = append([]netip.Prefix(nil), c.Addresses...)
	if c.Resolvers != nil {
		c.Resolvers = append([]netip.AddrPort{}, c.Resolvers...)
	}
	if c.ResolvConf == "" {
		c.ResolvConf = DefaultResolvConf
	}
	if c.Dial == nil {
		var d net.Dialer
		c.Dial = d.DialContext
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("forwarder: %w", err)
	}
	return c, nil
}
