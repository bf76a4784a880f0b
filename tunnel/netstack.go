package tunnel

import (
	"fmt"
	"net/netip"

	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/tun"
	"golang.zx2c4.com/wireguard/tun/netstack"

	"github.com/wgfleet/wgfleet/container"
)

// NewNetstack starts a device on a gVisor user-space network stack. It
// needs no privileges and creates no kernel interface: the addresses exist
// only inside the stack, and Tunnel.Net dials and listens through it. The
// UDP port is a normal host socket. No UAPI socket is served, so wg(8)
// cannot see the interface; use Peers.
func NewNetstack(cfg Config) (*Tunnel, error) { return NewNetstackWith(cfg, nil) }

// DeviceWrapper puts something between a netstack and the WireGuard
// device: it gets the netstack's device and returns the one WireGuard
// reads and writes, which then owns the netstack's (closing it closes
// both). forward.Forwarder.Wrap is one.
type DeviceWrapper func(tun.Device) (tun.Device, error)

// NewNetstackWith is NewNetstack with wrap between the netstack and the
// WireGuard device, so that packets the netstack would not take (for other
// destinations than the interface's addresses) can be forwarded; nil wrap
// is NewNetstack. Tunnel.Net still dials and listens on the netstack
// itself. If wrap fails, nothing is left running and the error is returned.
func NewNetstackWith(cfg Config, wrap DeviceWrapper) (*Tunnel, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	ips := make([]netip.Addr, len(cfg.Addresses))
	for i, p := range cfg.Addresses {
		ips[i] = p.Addr()
	}
	ndev, tnet, err := netstack.CreateNetTUN(ips, nil, cfg.MTU)
	if err != nil {
		return nil, fmt.Errorf("interface %s: creating netstack: %w", cfg.Name, err)
	}
	tdev := tun.Device(ndev)
	if wrap != nil {
		if tdev, err = wrap(ndev); err != nil {
			ndev.Close()
			return nil, fmt.Errorf("interface %s: wrapping netstack: %w", cfg.Name, err)
		}
	}
	t, err := newTunnel(cfg, container.ModeNetstack, tdev, conn.NewDefaultBind())
	if err != nil {
		return nil, err
	}
	t.tnet = tnet
	if err := t.up(); err != nil {
		t.abort()
		return nil, err
	}
	t.start()
	return t, nil
}
