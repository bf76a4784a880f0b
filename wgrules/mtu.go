package wgrules

// MTU of an interface. 576 is the smallest datagram every IPv4 host must
// accept; 65535 the largest an IP packet can be. 1420 leaves room for
// WireGuard's own headers over IPv6 on a 1500-byte link.
const (
	DefaultMTU = 1420
	MinMTU     = 576
	MaxMTU     = 65535
)
