package tunnel

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/wgrules"
)

// This file is a pure codec for the WireGuard cross-platform configuration
// protocol (https://www.wireguard.com/xplatform/#configuration-protocol), as
// spoken by wireguard-go's device/uapi.go. It reads and writes text only.

// maxKeepalive is wgrules.MaxKeepalive as a duration.
const maxKeepalive = wgrules.MaxKeepalive * time.Second

// WriteConfig writes the body of a UAPI "set" operation that applies cfg, as
// wgctrl's wguser does: the lines that go between "set=1" and the
// terminating blank line, neither of which it writes.
//
// The device fields come first. A nil PrivateKey, ListenPort or
// FirewallMark leaves that setting unchanged; a pointer to the zero key
// removes the private key, a listen port of 0 lets the device pick one and
// a firewall mark of 0 removes the mark. ReplacePeers removes every peer
// before cfg.Peers are applied; without it, peers not named in cfg.Peers
// keep their sessions.
//
// cfg.Peers are then applied in order, with the PeerConfig verbs as wgctrl
// defines them: Remove, UpdateOnly, ReplaceAllowedIPs; a nil PresharedKey,
// Endpoint or PersistentKeepaliveInterval leaves that setting unchanged, a
// pointer to the zero key removes the preshared key and a pointer to 0
// turns keepalives off.
//
// Everything is validated before anything is written, so on error w has
// received nothing. Errors wrap ErrInvalidConfig and never carry a private
// key. A zero cfg writes nothing.
func WriteConfig(w io.Writer, cfg wgtypes.Config) error {
	var b strings.Builder
	if err := writeDevice(&b, cfg); err != nil {
		return err
	}
	for i, p := range cfg.Peers {
		if err := writePeer(&b, p); err != nil {
			return fmt.Errorf("peer %d (%s): %w", i, p.PublicKey, err)
		}
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("writing uapi set operation: %w", err)
	}
	return nil
}

// writeDevice writes the device lines of cfg.
func writeDevice(b *strings.Builder, cfg wgtypes.Config) error {
	if cfg.ListenPort != nil && (*cfg.ListenPort < 0 || *cfg.ListenPort > math.MaxUint16) {
		return fmt.Errorf("%w: listen port %d out of range", ErrInvalidConfig, *cfg.ListenPort)
	}
	if cfg.FirewallMark != nil && (*cfg.FirewallMark < 0 || int64(*cfg.FirewallMark) > math.MaxUint32) {
		return fmt.Errorf("%w: firewall mark %d out of range", ErrInvalidConfig, *cfg.FirewallMark)
	}
	if cfg.PrivateKey != nil {
		fmt.Fprintf(b, "private_key=%s\n", hex.EncodeToString(cfg.PrivateKey[:]))
	}
	if cfg.ListenPort != nil {
		fmt.Fprintf(b, "listen_port=%d\n", *cfg.ListenPort)
	}
	if cfg.FirewallMark != nil {
		fmt.Fprintf(b, "fwmark=%d\n", *cfg.FirewallMark)
	}
	if cfg.ReplacePeers {
		b.WriteString("replace_peers=true\n")
	}
	return nil
}

func writePeer(b *strings.Builder, p wgtypes.PeerConfig) error {
	var zero wgtypes.Key
	if p.PublicKey == zero {
		return fmt.Errorf("%w: zero public key", ErrInvalidConfig)
	}
	var endpoint string
	if p.Endpoint != nil {
		ap, err := endpointAddrPort(p.Endpoint)
		if err != nil {
			return err
		}
		endpoint = ap.String()
	}
	if p.PersistentKeepaliveInterval != nil {
		ka := *p.PersistentKeepaliveInterval
		if ka < 0 || ka > maxKeepalive || ka%time.Second != 0 {
			return fmt.Errorf("%w: persistent keepalive %v is not a whole number of seconds in [0s, %v]",
				ErrInvalidConfig, ka, maxKeepalive)
		}
	}
	allowed := make([]netip.Prefix, 0, len(p.AllowedIPs))
	for _, n := range p.AllowedIPs {
		pfx, err := ipNetPrefix(n)
		if err != nil {
			return err
		}
		allowed = append(allowed, pfx)
	}

	fmt.Fprintf(b, "public_key=%s\n", hex.EncodeToString(p.PublicKey[:]))
	if p.Remove {
		// Anything after remove=true would be applied to a placeholder
		// and discarded by the device, so nothing else is written.
		b.WriteString("remove=true\n")
		return nil
	}
	if p.UpdateOnly {
		b.WriteString("update_only=true\n")
	}
	if p.PresharedKey != nil {
		fmt.Fprintf(b, "preshared_key=%s\n", hex.EncodeToString(p.PresharedKey[:]))
	}
	if p.Endpoint != nil {
		fmt.Fprintf(b, "endpoint=%s\n", endpoint)
	}
	if p.PersistentKeepaliveInterval != nil {
		fmt.Fprintf(b, "persistent_keepalive_interval=%d\n", *p.PersistentKeepaliveInterval/time.Second)
	}
	if p.ReplaceAllowedIPs {
		b.WriteString("replace_allowed_ips=true\n")
	}
	for _, pfx := range allowed {
		fmt.Fprintf(b, "allowed_ip=%s\n", pfx)
	}
	return nil
}

// endpointAddrPort converts a peer endpoint; IPv4-mapped IPv6 addresses
// become plain IPv4 so the device sends from its IPv4 socket.
func endpointAddrPort(a *net.UDPAddr) (netip.AddrPort, error) {
	ip, ok := netip.AddrFromSlice(a.IP)
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("%w: endpoint %v has no valid IP", ErrInvalidConfig, a)
	}
	ip = ip.Unmap()
	if a.Zone != "" {
		// The zone is the one free-form string that reaches the UAPI text;
		// allow only interface-name characters, so it cannot smuggle in
		// a line.
		if ip.Is4() {
			return netip.AddrPort{}, fmt.Errorf("%w: endpoint %v: IPv4 address with a zone", ErrInvalidConfig, a)
		}
		if err := validName(a.Zone); err != nil {
			return netip.AddrPort{}, fmt.Errorf("%w: endpoint zone: %w", ErrInvalidConfig, err)
		}
		ip = ip.WithZone(a.Zone)
	}
	if a.Port <= 0 || a.Port > math.MaxUint16 {
		return netip.AddrPort{}, fmt.Errorf("%w: endpoint %v: port out of range", ErrInvalidConfig, a)
	}
	return netip.AddrPortFrom(ip, uint16(a.Port)), nil
}

// ipNetPrefix converts an allowed IP. A 4-byte mask takes an IPv4 address
// (in either representation); a 16-byte mask takes a 16-byte address.
func ipNetPrefix(n net.IPNet) (netip.Prefix, error) {
	ones, bits := n.Mask.Size()
	var ip netip.Addr
	switch {
	case bits == 32 && n.IP.To4() != nil:
		ip = netip.AddrFrom4([4]byte(n.IP.To4()))
	case bits == 128 && len(n.IP) == net.IPv6len:
		ip = netip.AddrFrom16([16]byte(n.IP))
	default:
		return netip.Prefix{}, fmt.Errorf("%w: allowed IP %v is not a valid CIDR", ErrInvalidConfig, n.String())
	}
	return netip.PrefixFrom(ip, ones).Masked(), nil
}

// DeviceState is what a UAPI "get" operation reports about a device. It
// deliberately has no private key.
type DeviceState struct {
	// PublicKey is derived from the reported private key; zero when the
	// device has none.
	PublicKey wgtypes.Key
	// ListenPort is the bound UDP port; 0 when the device reported none.
	ListenPort int
	// FirewallMark is the fwmark of outgoing packets; 0 when unset.
	FirewallMark int
	// Peers are in the order the device reported them (which for
	// wireguard-go is unspecified). Each has a non-zero PublicKey.
	Peers []wgtypes.Peer
}

// PeerView is one peer of a UAPI "get" reply as the parser completes it,
// for readers that turn the reply into something else in one pass
// (Tunnel.EachPeer). It is valid only during the call it is given to:
// AllowedIPs is reused for the next peer.
type PeerView struct {
	PublicKey wgtypes.Key
	// PresharedKey is zero when the peer has none.
	PresharedKey wgtypes.Key
	// Endpoint is the peer's address as the device reports it; the zero
	// AddrPort (not IsValid) when it has none.
	Endpoint netip.AddrPort
	// LastHandshakeSec and LastHandshakeNsec are the time of the last
	// handshake; both 0 when there was none.
	LastHandshakeSec, LastHandshakeNsec int64
	ReceiveBytes, TransmitBytes         int64
	// PersistentKeepalive is 0 when keepalives are off.
	PersistentKeepalive time.Duration
	// ProtocolVersion is 0 when the reply did not say.
	ProtocolVersion int
	// AllowedIPs are masked, in the order the device reported them.
	AllowedIPs []netip.Prefix
	// Text is the peer's lines in the reply as the device wrote them, from
	// its public_key line up to the line that starts the next peer or
	// ends the peers (PeerEndsAt); empty when the reply was read through
	// an io.Reader (ParseDevice). The same Text always parses to the same
	// peer, whatever comes before or after it in a reply.
	Text string
}

// LastHandshake is the time of the last handshake; the zero time when
// there was none.
func (v *PeerView) LastHandshake() time.Time {
	if v.LastHandshakeSec == 0 && v.LastHandshakeNsec == 0 {
		return time.Time{}
	}
	return time.Unix(v.LastHandshakeSec, v.LastHandshakeNsec)
}

// Peer returns the peer as a wgtypes.Peer that owns its memory.
func (v *PeerView) Peer() wgtypes.Peer {
	p := wgtypes.Peer{
		PublicKey:                   v.PublicKey,
		PresharedKey:                v.PresharedKey,
		LastHandshakeTime:           v.LastHandshake(),
		ReceiveBytes:                v.ReceiveBytes,
		TransmitBytes:               v.TransmitBytes,
		PersistentKeepaliveInterval: v.PersistentKeepalive,
		ProtocolVersion:             v.ProtocolVersion,
	}
	if v.Endpoint.IsValid() {
		p.Endpoint = net.UDPAddrFromAddrPort(v.Endpoint)
	}
	if len(v.AllowedIPs) > 0 {
		p.AllowedIPs = make([]net.IPNet, 0, len(v.AllowedIPs))
		for _, pfx := range v.AllowedIPs {
			p.AllowedIPs = append(p.AllowedIPs, net.IPNet{
				IP:   pfx.Addr().AsSlice(),
				Mask: net.CIDRMask(pfx.Bits(), pfx.Addr().BitLen()),
			})
		}
	}
	return p
}

// ParseDevice parses the reply to a UAPI "get" operation: device lines, then
// one block per peer starting with public_key, optionally "errno=N", up to a
// blank line or the end of r. It is strict: unknown keys, repeated fields,
// malformed values, a duplicated peer and a non-zero errno are errors. Error
// text never carries key material.
func ParseDevice(r io.Reader) (DeviceState, error) {
	var st DeviceState
	p := deviceParser{st: &st, onPeer: st.addPeer}
	s := bufio.NewScanner(r)
	for lineNo := 1; s.Scan(); lineNo++ {
		line := s.Text()
		if line == "" {
			break
		}
		if err := p.line(line); err != nil {
			return DeviceState{}, fmt.Errorf("parsing uapi line %d: %w", lineNo, err)
		}
	}
	if err := s.Err(); err != nil {
		return DeviceState{}, fmt.Errorf("reading uapi reply: %w", err)
	}
	if err := p.finish(); err != nil {
		return DeviceState{}, err
	}
	return st, nil
}

func (st *DeviceState) addPeer(v *PeerView) error {
	st.Peers = append(st.Peers, v.Peer())
	return nil
}

// parseDeviceText is ParseDevice of a reply held in a string, as IpcGet
// returns it: the same parser, without a copy of every line.
func parseDeviceText(text string) (DeviceState, error) {
	var st DeviceState
	if err := scanDeviceText(text, &st, st.addPeer); err != nil {
		return DeviceState{}, err
	}
	return st, nil
}

// scanDeviceText parses text as ParseDevice does, filling the device
// fields of st and calling onPeer for each peer once its block ends. An
// error of onPeer ends the scan and is returned as it is.
func scanDeviceText(text string, st *DeviceState, onPeer func(*PeerView) error) error {
	p := deviceParser{st: st, onPeer: onPeer}
	if err := p.scan(text, ""); err != nil {
		return err
	}
	return p.finish()
}

// scan parses the lines of text, up to an empty line or the end; before
// is what comes before text in the reply, whose lines count in the
// numbers of an error's line. An error of onPeer is returned as it is.
func (p *deviceParser) scan(text, before string) error {
	all := text
	for text != "" {
		p.rest = text
		line, rest, _ := strings.Cut(text, "\n")
		if line == "" {
			break
		}
		text = rest
		if key, ok := strings.CutPrefix(line, "public_key="); ok && !p.errnoSeen {
			skip, err := p.startPeer(key, p.rest)
			if err != nil {
				return p.lineError(before, all, err)
			}
			if skip > 0 {
				text = p.rest[skip:]
			}
			continue
		}
		if err := p.line(line); err != nil {
			return p.lineError(before, all, err)
		}
	}
	p.rest = text
	return nil
}

// lineError is err, found on the line p.rest starts, of the text all
// that comes after before in the reply, as scan returns it: an error of
// onPeer as it is. Lines are counted only here, for an error: a reply's
// lines are most of its bytes, and those of the peers a KnownFunc knew
// are not read at all.
func (p *deviceParser) lineError(before, all string, err error) error {
	if p.peerErr != nil {
		return p.peerErr
	}
	lineNo := 1 + strings.Count(before, "\n") + strings.Count(all[:len(all)-len(p.rest)], "\n")
	return fmt.Errorf("parsing uapi line %d: %w", lineNo, err)
}

// PeerEndsAt reports whether the lines of the peer whose public_key line
// starts text may end at n (a PeerView's Text): the parser closes a peer
// before a line that starts another (public_key=) or ends the peers
// (errno=, an empty line), or at the end of the text. A KnownFunc's
// length is taken only where this is true.
func PeerEndsAt(text string, n int) bool {
	if n <= 0 || n > len(text) {
		return false
	}
	if n == len(text) {
		return true
	}
	next := text[n:]
	return text[n-1] == '\n' && (next[0] == '\n' || strings.HasPrefix(next, "public_key=") || strings.HasPrefix(next, "errno="))
}

// peerField is a bit per peer key, to reject repeats.
type peerField uint16

const (
	fieldPresharedKey peerField = 1 << iota
	fieldEndpoint
	fieldHandshakeSec
	fieldHandshakeNsec
	fieldTxBytes
	fieldRxBytes
	fieldKeepalive
	fieldProtocolVersion
)

type deviceParser struct {
	st     *DeviceState // device fields; its Peers are onPeer's business
	onPeer func(*PeerView) error
	// known, if not nil, is asked about each peer before its lines are
	// parsed; what it knows is skipped (KnownFunc).
	known func(key wgtypes.Key, text string) int
	// rest is the text from the line being parsed on, and peerText the
	// text from the public_key line of the peer being parsed: its Text is
	// what lies between, once it is closed.
	rest, peerText string
	peerErr        error // what onPeer returned, which ends the parse
	privateKey     wgtypes.Key
	seenDevice     map[string]bool
	seenPeers      keySet
	peersHint      int // how many peers seenPeers is sized for; 0 to let it grow
	errnoSeen      bool

	inPeer   bool
	peer     PeerView // the peer being parsed, while inPeer
	peerSeen peerField
}

func (p *deviceParser) line(line string) error {
	if p.errnoSeen {
		return errors.New("data after errno")
	}
	key, value, ok := strings.Cut(line, "=")
	if !ok || key == "" {
		// Not echoed: a garbled line may hold key material.
		return fmt.Errorf("not a key=value pair (%d bytes)", len(line))
	}
	switch key {
	case "errno":
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			return fmt.Errorf("invalid errno %.20q", value)
		}
		if n != 0 {
			return fmt.Errorf("device reported errno=%d", n)
		}
		if err := p.closePeer(); err != nil {
			return err
		}
		p.errnoSeen = true
		return nil
	case "public_key":
		_, err := p.startPeer(value, "")
		return err
	}
	if p.inPeer {
		return p.peerLine(key, value)
	}
	return p.deviceLine(key, value)
}

// startPeer reads a public_key line of value hex and closes the peer
// before it; text is the reply from that line on, "" when read through
// an io.Reader. skip, when not 0, is the length of the new peer's lines
// (its Text), which the known function knew: they are then not parsed
// and onPeer is not called for the peer; it still counts against a
// duplicate.
func (p *deviceParser) startPeer(hex, text string) (skip int, err error) {
	k, err := parseHexKey(hex)
	if err != nil {
		return 0, fmt.Errorf("invalid public_key: %w", err)
	}
	if k == (wgtypes.Key{}) {
		return 0, errors.New("zero peer public_key")
	}
	if p.seenPeers.add(k, p.peersHint) {
		return 0, fmt.Errorf("duplicate peer %s", k)
	}
	if err := p.closePeer(); err != nil {
		return 0, err
	}
	if text != "" && p.known != nil {
		if n := p.known(k, text); n > 0 && PeerEndsAt(text, n) {
			return n, nil
		}
	}
	p.peer = PeerView{PublicKey: k, AllowedIPs: p.peer.AllowedIPs[:0]}
	p.peerText = text
	p.inPeer = true
	return 0, nil
}

func (p *deviceParser) deviceLine(key, value string) error {
	if p.seenDevice[key] {
		return fmt.Errorf("repeated device key %.40q", key)
	}
	if p.seenDevice == nil {
		p.seenDevice = make(map[string]bool)
	}
	p.seenDevice[key] = true
	switch key {
	case "private_key":
		k, err := parseHexKey(value)
		if err != nil {
			// The value is secret: never echo it.
			return errors.New("invalid private_key")
		}
		p.privateKey = k
	case "listen_port":
		n, err := strconv.ParseUint(value, 10, 16)
		if err != nil {
			return fmt.Errorf("invalid listen_port %.20q", value)
		}
		p.st.ListenPort = int(n)
	case "fwmark":
		n, err := strconv.ParseUint(value, 10, 32)
		if err != nil {
			return fmt.Errorf("invalid fwmark %.20q", value)
		}
		p.st.FirewallMark = int(n)
	default:
		return fmt.Errorf("unknown device key %.40q", key)
	}
	return nil
}

// peerFieldOf is the field of a peer key other than allowed_ip; ok is
// false for an unknown key.
func peerFieldOf(key string) (f peerField, ok bool) {
	switch key {
	case "preshared_key":
		return fieldPresharedKey, true
	case "endpoint":
		return fieldEndpoint, true
	case "last_handshake_time_sec":
		return fieldHandshakeSec, true
	case "last_handshake_time_nsec":
		return fieldHandshakeNsec, true
	case "tx_bytes":
		return fieldTxBytes, true
	case "rx_bytes":
		return fieldRxBytes, true
	case "persistent_keepalive_interval":
		return fieldKeepalive, true
	case "protocol_version":
		return fieldProtocolVersion, true
	}
	return 0, false
}

func (p *deviceParser) peerLine(key, value string) error {
	peer := &p.peer
	if key == "allowed_ip" {
		pfx, err := netip.ParsePrefix(value)
		if err != nil {
			return fmt.Errorf("invalid allowed_ip %.60q", value)
		}
		peer.AllowedIPs = append(peer.AllowedIPs, pfx.Masked())
		return nil
	}
	f, ok := peerFieldOf(key)
	if !ok {
		return fmt.Errorf("unknown peer key %.40q", key)
	}
	if p.peerSeen&f != 0 {
		return fmt.Errorf("repeated peer key %q", key)
	}
	p.peerSeen |= f
	switch f {
	case fieldPresharedKey:
		k, err := parseHexKey(value)
		if err != nil {
			return errors.New("invalid preshared_key")
		}
		peer.PresharedKey = k
	case fieldEndpoint:
		ap, err := netip.ParseAddrPort(value)
		if err != nil {
			return fmt.Errorf("invalid endpoint %.60q", value)
		}
		peer.Endpoint = ap
	case fieldHandshakeSec:
		n, err := parseNonNegative(value)
		if err != nil {
			return fmt.Errorf("invalid last_handshake_time_sec: %w", err)
		}
		peer.LastHandshakeSec = n
	case fieldHandshakeNsec:
		n, err := parseNonNegative(value)
		if err != nil || n >= int64(time.Second) {
			return fmt.Errorf("invalid last_handshake_time_nsec %.20q", value)
		}
		peer.LastHandshakeNsec = n
	case fieldTxBytes:
		n, err := parseNonNegative(value)
		if err != nil {
			return fmt.Errorf("invalid tx_bytes: %w", err)
		}
		peer.TransmitBytes = n
	case fieldRxBytes:
		n, err := parseNonNegative(value)
		if err != nil {
			return fmt.Errorf("invalid rx_bytes: %w", err)
		}
		peer.ReceiveBytes = n
	case fieldKeepalive:
		n, err := strconv.ParseUint(value, 10, 16)
		if err != nil {
			return fmt.Errorf("invalid persistent_keepalive_interval %.20q", value)
		}
		peer.PersistentKeepalive = time.Duration(n) * time.Second
	case fieldProtocolVersion:
		if value != "1" {
			return fmt.Errorf("unsupported protocol_version %.20q", value)
		}
		peer.ProtocolVersion = 1
	}
	return nil
}

// closePeer hands the peer being parsed, if any, to onPeer.
func (p *deviceParser) closePeer() error {
	if !p.inPeer {
		return nil
	}
	p.inPeer, p.peerSeen = false, 0
	if p.peerText != "" {
		p.peer.Text = p.peerText[:len(p.peerText)-len(p.rest)]
		p.peerText = ""
	}
	if err := p.onPeer(&p.peer); err != nil {
		p.peerErr = err
		return err
	}
	return nil
}

func (p *deviceParser) finish() error {
	if err := p.closePeer(); err != nil {
		return err
	}
	if p.privateKey != (wgtypes.Key{}) {
		p.st.PublicKey = p.privateKey.PublicKey()
	}
	p.privateKey = wgtypes.Key{}
	return nil
}

// parseHexKey decodes 64 hexadecimal digits (either case).
func parseHexKey(s string) (wgtypes.Key, error) {
	if len(s) != hex.EncodedLen(wgtypes.KeyLen) {
		return wgtypes.Key{}, fmt.Errorf("want %d hex digits, got %d characters", hex.EncodedLen(wgtypes.KeyLen), len(s))
	}
	var k wgtypes.Key
	for i := range k {
		hi, lo := hexValue[s[2*i]], hexValue[s[2*i+1]]
		if hi > 0xf || lo > 0xf {
			return wgtypes.Key{}, errors.New("not hexadecimal")
		}
		k[i] = hi<<4 | lo
	}
	return k, nil
}

// hexValue maps a byte to its value as a hexadecimal digit, 0xff if it
// is none.
const hexValue = "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\xff\xff\xff\xff\xff\xff\xff\x0a\x0b\x0c\x0d\x0e\x0f\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x0a\x0b\x0c\x0d\x0e\x0f\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"

// parseNonNegative parses a decimal int64 that is not negative, as
// strconv.ParseInt does (a sign, leading zeros).
func parseNonNegative(s string) (int64, error) {
	if n, ok := shortDigits(s); ok {
		return n, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("not a non-negative 64-bit integer: %.20q", s)
	}
	return n, nil
}

// shortDigits parses 1 to 18 decimal digits, too few to overflow an
// int64: the common case of parseNonNegative (a dump has several a peer)
// without strconv's generality.
func shortDigits(s string) (int64, bool) {
	if len(s) == 0 || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i] - '0'
		if c > 9 {
			return 0, false
		}
		n = n*10 + int64(c)
	}
	return n, true
}
