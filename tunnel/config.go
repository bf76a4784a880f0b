package tunnel

import (
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// Defaults filled in by the constructors.
const (
	DefaultMTU     = 1420
	DefaultUAPIDir = "/var/run/wireguard"
)

// MTU bounds: 576 is the smallest datagram every IPv4 host must accept,
// 1280 the IPv6 minimum link MTU.
const (
	minMTU     = 576
	minMTUIPv6 = 1280
	maxMTU     = 65535
)

// Config describes one interface. The zero values of ListenPort, MTU,
// Logger and UAPIDir select defaults; Name and PrivateKey are required.
type Config struct {
	// Name is the interface name, ^[A-Za-z0-9_=+.-]{1,15}$ and neither "."
	// nor "..". In netstack mode it only labels logs.
	Name string
	// PrivateKey is the interface's private key; it must not be zero. It is
	// handed to the device once and never returned or logged.
	PrivateKey wgtypes.Key
	// ListenPort is the UDP port to bind; 0 picks a free one (see
	// Tunnel.ListenPort for the port actually bound).
	ListenPort int
	// Addresses are the interface's own addresses with their prefix length,
	// e.g. 10.0.0.1/24 or fd00::1/64. Netstack mode uses only the IPs. May
	// be empty.
	Addresses []netip.Prefix
	// MTU is the interface MTU; 0 means DefaultMTU. At least 576, and at
	// least 1280 when an address is IPv6.
	MTU int
	// Logger receives the device's log lines; nil discards them.
	Logger *slog.Logger
	// UAPIDir is where TUN mode serves the UAPI socket <Name>.sock; ""
	// means DefaultUAPIDir, the only place wg(8) looks. Unused in netstack
	// mode.
	UAPIDir string
}

// withDefaults validates c and returns it with its defaults filled in. Every
// error wraps ErrInvalidConfig.
func (c Config) withDefaults() (Config, error) {
	if err := validName(c.Name); err != nil {
		return c, err
	}
	if c.PrivateKey == (wgtypes.Key{}) {
		return c, fmt.Errorf("%w: interface %s: zero private key", ErrInvalidConfig, c.Name)
	}
	if c.ListenPort < 0 || c.ListenPort > 65535 {
		return c, fmt.Errorf("%w: interface %s: listen port %d out of range", ErrInvalidConfig, c.Name, c.ListenPort)
	}
	if c.MTU == 0 {
		c.MTU = DefaultMTU
	}
	if c.MTU < minMTU || c.MTU > maxMTU {
		return c, fmt.Errorf("%w: interface %s: MTU %d not in [%d, %d]", ErrInvalidConfig, c.Name, c.MTU, minMTU, maxMTU)
	}
	seen := make(map[netip.Addr]bool, len(c.Addresses))
	for _, p := range c.Addresses {
		if !p.IsValid() {
			return c, fmt.Errorf("%w: interface %s: invalid address prefix %v", ErrInvalidConfig, c.Name, p)
		}
		if seen[p.Addr()] {
			return c, fmt.Errorf("%w: interface %s: address %v given twice", ErrInvalidConfig, c.Name, p.Addr())
		}
		seen[p.Addr()] = true
		if p.Addr().Is4In6() {
			return c, fmt.Errorf("%w: interface %s: address %v is IPv4-mapped; give it as IPv4", ErrInvalidConfig, c.Name, p)
		}
		if p.Addr().Is6() && c.MTU < minMTUIPv6 {
			return c, fmt.Errorf("%w: interface %s: MTU %d is below %d, the IPv6 minimum, and %v is IPv6",
				ErrInvalidConfig, c.Name, c.MTU, minMTUIPv6, p)
		}
	}
	c.Addresses = append([]netip.Prefix(nil), c.Addresses...)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.UAPIDir == "" {
		c.UAPIDir = DefaultUAPIDir
	}
	c.UAPIDir = filepath.Clean(c.UAPIDir)
	return c, nil
}

func validName(name string) error {
	if len(name) < 1 || len(name) > 15 || name == "." || name == ".." {
		return fmt.Errorf("%w: interface name %.20q: want 1 to 15 characters, not \"..\" or \".\"", ErrInvalidConfig, name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '_' || c == '=' || c == '+' || c == '.' || c == '-'
		if !ok {
			return fmt.Errorf("%w: interface name %q: character %q not in [A-Za-z0-9_=+.-]", ErrInvalidConfig, name, c)
		}
	}
	return nil
}
