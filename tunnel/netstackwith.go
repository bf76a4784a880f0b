package tunnel

import (
	"fmt"
	"net/netip"

	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/tun"
	"golang.zx2c4.com/wireguard/tun/netstack"
)

// DeviceWrapper puts something between a netstack and the WireGuard
// device: it gets the netstack's device and returns the one WireGuard
// reads and writes, which then owns the netstack's (closing it closes
// both). forward.Forwarder.Wrap is one.
type DeviceWrapper func(tun.Device) (tun.Device, error)

// NewNetstackWith is NewNetstack with wrap between the netstack and the
// WireGuard device, so that packets the netstack would not take (for other
// destinations than the interface's addresses) can be forwarded.
// Tunnel.Net still dials and listens on the netstack itself. If wrap
// fails, nothing is left running and the error is returned.
func NewNetstackWith(cfg Config, wrap DeviceWrapper) (*Tunnel, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if wrap == nil {
		return nil, fmt.Errorf("%w: interface %s: nil device wrapper", ErrInvalidConfig, cfg.Name)
	}
	ips := make([]netip.Addr, len(cfg.Addresses))
	for i, p := range cfg.Addresses {
		ips[i] = p.Addr()
	}
	ndev, tnet, err := netstack.CreateNetTUN(ips, nil, cfg.MTU)
	if err != nil {
		return nil, fmt.Errorf("interface %s: creating netstack: %w", cfg.Name, err)
	}
	tdev, err := wrap(ndev)
	if err != nil {
		ndev.Close()
		return nil, fmt.Errorf("interface %s: wrapping netstack: %w", cfg.Name, err)
	}
	// From here on as NewNetstack: only the UDP sockets depend on the
	// namespace.
	pin := pinNetns(cfg.Logger.With("iface", cfg.Name))
	t, err := newTunnel(cfg, ModeNetstack, tdev, pin.bind(conn.NewDefaultBind()))
	if err != nil {
		pin.close()
		return nil, err
	}
	t.tnet = tnet
	t.cleanup = append(t.cleanup, pin.close)
	if err := t.up(); err != nil {
		t.abort()
		return nil, err
	}
	t.start()
	return t, nil
}
