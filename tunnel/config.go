package tunnel

import (
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/wgrules"
)

// DefaultUAPIDir is where TUN mode serves the UAPI socket by default.
const DefaultUAPIDir = "/var/run/wireguard"

// minMTUIPv6 is the IPv6 minimum link MTU; the other bounds and the
// default are wgrules'.
const minMTUIPv6 = 1280

// Config describes one interface. The zero values of ListenPort, MTU,
// Logger and UAPIDir select defaults; Name and PrivateKey are required.
type Config struct {
	// Name is the interface name, as wgrules.CheckInterfaceName accepts
	// it. In netstack mode it only labels logs.
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
	// MTU is the interface MTU; 0 means wgrules.DefaultMTU. In
	// [wgrules.MinMTU, wgrules.MaxMTU], and at least 1280 when an address
	// is IPv6.
	MTU int
	// Logger receives the device's log lines; nil discards them.
	Logger *slog.Logger
	// Down makes the device start down, as after SetUp(false): it binds no
	// UDP port and passes nothing until SetUp(true).
	Down bool
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
		c.MTU = wgrules.DefaultMTU
	}
	if c.MTU < wgrules.MinMTU || c.MTU > wgrules.MaxMTU {
		return c, fmt.Errorf("%w: interface %s: MTU %d not in [%d, %d]", ErrInvalidConfig, c.Name, c.MTU, wgrules.MinMTU, wgrules.MaxMTU)
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

// validName checks an interface name by wgrules.CheckInterfaceName; the
// error wraps ErrInvalidConfig.
func validName(name string) error {
	if err := wgrules.CheckInterfaceName(name); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return nil
}
