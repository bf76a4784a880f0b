package container

// Mode is a WireGuard data plane: the one type for it in every package.
// Choose takes any of the three and picks ModeTUN or ModeNetstack;
// tunnel.Tunnel.Mode reports which one a device runs on; the agent API
// carries it as its string.
type Mode string

// The data-plane modes.
const (
	ModeAuto     Mode = "auto"     // TUN when possible, else netstack
	ModeTUN      Mode = "tun"      // a kernel TUN interface
	ModeNetstack Mode = "netstack" // a user-space IP stack, no privileges
)
