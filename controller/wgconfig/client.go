package wgconfig

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/wgrules"
)

// ErrInvalid wraps every error of Render and Parse: a config that is
// incomplete or malformed.
var ErrInvalid = errors.New("wgconfig: invalid client config")

// Limits of a client config. MTU and keepalive are bounded by wgrules.
const (
	maxNameRunes  = 64
	maxListLength = 256 // entries in Address, DNS or AllowedIPs
)

// Client is one wg-quick client config: the [Interface] of the client and
// the single [Peer] that is the server (the node) it dials.
type Client struct {
	// Name is shown as a "# Name = ..." comment on the first line; "" for
	// none. Render makes it one printable line of at most 64 runes.
	Name string

	// PrivateKey is the client's key. Required.
	PrivateKey wgtypes.Key
	// Addresses are the client's tunnel addresses, usually its /32 and
	// /128. At least one.
	Addresses []netip.Prefix
	// DNS are resolvers (IP addresses) or search domains; empty for none.
	DNS []string
	// MTU is the tunnel MTU; 0 leaves it to wg-quick.
	MTU int

	// ServerPublicKey is the public key of the node's interface. Required.
	ServerPublicKey wgtypes.Key
	// PresharedKey is nil when the peer has none.
	PresharedKey *wgtypes.Key
	// Endpoint is the host:port the client dials. Required.
	Endpoint string
	// AllowedIPs are the routes sent into the tunnel. At least one.
	AllowedIPs []netip.Prefix
	// Keepalive is the persistent keepalive in seconds; 0 is off.
	Keepalive int
}

// Render writes c as a wg-quick config. It refuses a Client that lacks a
// private key, an address, the server's public key, an endpoint or allowed
// IPs, saying what to set; errors wrap ErrInvalid.
func Render(c Client) ([]byte, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if name := CleanName(c.Name); name != "" {
		fmt.Fprintf(&b, "# Name = %s\n", name)
	}
	b.WriteString("[Interface]\n")
	fmt.Fprintf(&b, "PrivateKey = %s\n", c.PrivateKey)
	fmt.Fprintf(&b, "Address = %s\n", joinPrefixes(c.Addresses))
	if len(c.DNS) > 0 {
		fmt.Fprintf(&b, "DNS = %s\n", strings.Join(c.DNS, ", "))
	}
	if c.MTU != 0 {
		fmt.Fprintf(&b, "MTU = %d\n", c.MTU)
	}
	b.WriteString("\n[Peer]\n")
	fmt.Fprintf(&b, "PublicKey = %s\n", c.ServerPublicKey)
	if c.PresharedKey != nil {
		fmt.Fprintf(&b, "PresharedKey = %s\n", *c.PresharedKey)
	}
	fmt.Fprintf(&b, "Endpoint = %s\n", c.Endpoint)
	fmt.Fprintf(&b, "AllowedIPs = %s\n", joinPrefixes(c.AllowedIPs))
	if c.Keepalive != 0 {
		fmt.Fprintf(&b, "PersistentKeepalive = %d\n", c.Keepalive)
	}
	return b.Bytes(), nil
}

// validate checks everything Render writes and Parse accepts, so the two
// agree on what a valid client config is.
func (c Client) validate() error {
	var zero wgtypes.Key
	switch {
	case c.PrivateKey == zero:
		return invalidf("the client's private key is missing")
	case len(c.Addresses) == 0:
		return invalidf("the client has no address: set at least one Address")
	case c.ServerPublicKey == zero:
		return invalidf("the server's public key is missing: set the public key of the node's interface")
	case c.Endpoint == "":
		return invalidf("the endpoint is missing: set the node's endpoint (host:port clients dial)")
	case len(c.AllowedIPs) == 0:
		return invalidf("AllowedIPs is empty: set the routes to send through the tunnel, e.g. 0.0.0.0/0, ::/0")
	case c.PresharedKey != nil && *c.PresharedKey == zero:
		return invalidf("the preshared key is all zeros; leave it out for none")
	}
	if err := checkList("Address", len(c.Addresses)); err != nil {
		return err
	}
	for _, p := range c.Addresses {
		if err := checkAddress(p); err != nil {
			return err
		}
	}
	if err := checkList("DNS", len(c.DNS)); err != nil {
		return err
	}
	for _, d := range c.DNS {
		if err := checkDNS(d); err != nil {
			return err
		}
	}
	if c.MTU != 0 && (c.MTU < wgrules.MinMTU || c.MTU > wgrules.MaxMTU) {
		return invalidf("MTU %d is outside %d..%d (or 0 to leave it out)", c.MTU, wgrules.MinMTU, wgrules.MaxMTU)
	}
	if err := CheckEndpoint(c.Endpoint); err != nil {
		return err
	}
	if err := checkList("AllowedIPs", len(c.AllowedIPs)); err != nil {
		return err
	}
	for _, p := range c.AllowedIPs {
		if err := checkAllowedIP(p); err != nil {
			return err
		}
	}
	if c.Keepalive < 0 || c.Keepalive > wgrules.MaxKeepalive {
		return invalidf("PersistentKeepalive %d is outside 0..%d", c.Keepalive, wgrules.MaxKeepalive)
	}
	return nil
}

func invalidf(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
}

func checkList(key string, n int) error {
	if n > maxListLength {
		return invalidf("%s has %d entries, more than %d", key, n, maxListLength)
	}
	return nil
}

func checkAddress(p netip.Prefix) error {
	if !p.IsValid() || p.Addr().Zone() != "" || p.Addr().Is4In6() {
		return invalidf("Address %s is not an IPv4 or IPv6 prefix", p)
	}
	return nil
}

func checkAllowedIP(p netip.Prefix) error {
	if !p.IsValid() || p.Addr().Zone() != "" || p.Addr().Is4In6() {
		return invalidf("AllowedIPs entry %s is not an IPv4 or IPv6 prefix", p)
	}
	if m := p.Masked(); m != p {
		return invalidf("AllowedIPs entry %s has host bits set; did you mean %s?", p, m)
	}
	return nil
}

// checkDNS accepts a resolver's IP address or a search domain.
func checkDNS(s string) error {
	if a, err := netip.ParseAddr(s); err == nil {
		if a.Zone() != "" {
			return invalidf("a DNS server address has a zone")
		}
		return nil
	}
	// wg-quick takes anything made of digits and dots, or holding a colon,
	// for an address; a search domain must not look like one.
	if strings.Trim(s, "0123456789.") == "" || strings.Contains(s, ":") || !validHostname(s) {
		return invalidf("a DNS entry is neither an IP address nor a domain name")
	}
	return nil
}

// CheckEndpoint accepts host:port with a host name or IP address (IPv6 in
// brackets) and a port in 1..65535. Errors wrap ErrInvalid and do not
// quote s.
func CheckEndpoint(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return invalidf("the endpoint is not host:port")
	}
	if !allDigits(port) {
		return invalidf("the endpoint's port is not a number in 1..65535")
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
		return invalidf("the endpoint's port is not a number in 1..65535")
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if a.Zone() != "" {
			return invalidf("the endpoint's address has a zone")
		}
		if a.Is4In6() {
			return invalidf("the endpoint's address is IPv4-mapped IPv6; write it as IPv4")
		}
		if a.Is6() != strings.HasPrefix(s, "[") {
			return invalidf("the endpoint's host must be in brackets if and only if it is an IPv6 address")
		}
		return nil
	}
	if strings.HasPrefix(s, "[") {
		return invalidf("the endpoint's host must be in brackets if and only if it is an IPv6 address")
	}
	if !validHostname(host) || strings.Trim(host, "0123456789.") == "" {
		return invalidf("the endpoint's host is neither an IP address nor a host name")
	}
	return nil
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// validHostname accepts DNS names: labels of letters, digits, '-' and '_'
// of 1..63 bytes, not starting or ending with '-', 253 bytes at most, an
// optional final dot.
func validHostname(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// CleanName makes a peer name fit a comment line: valid UTF-8, control
// characters as spaces, no spaces at either end, at most 64 runes.
// CleanName(CleanName(s)) == CleanName(s).
func CleanName(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > maxNameRunes {
		s = strings.TrimSpace(string([]rune(s)[:maxNameRunes]))
	}
	return s
}

func joinPrefixes(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}
