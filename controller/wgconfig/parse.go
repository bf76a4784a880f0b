package wgconfig

import (
	"bytes"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/wgrules"
)

// MaxConfigSize bounds what Parse reads.
const MaxConfigSize = 64 << 10

// Parse reads a wg-quick client config strictly: one [Interface] with
// PrivateKey and Address (DNS and MTU optional), then exactly one [Peer]
// with PublicKey, Endpoint and AllowedIPs (PresharedKey and
// PersistentKeepalive optional). Keys and section names are matched
// without regard to case, as wg-quick and wg do; '#' starts a comment. A
// "# Name = ..." comment before [Interface] gives Client.Name.
//
// Everything else is refused: other keys (hooks such as PostUp among
// them), a repeated single-valued key, a second [Peer], lines outside a
// section, control characters, invalid UTF-8, and more than MaxConfigSize
// bytes. Whatever Parse accepts, Render writes back to an equal Client.
// Errors wrap ErrInvalid and never quote a key.
func Parse(data []byte) (Client, error) {
	if len(data) > MaxConfigSize {
		return Client{}, invalidf("config is larger than %d bytes", MaxConfigSize)
	}
	if !utf8.Valid(data) {
		return Client{}, invalidf("config is not valid UTF-8")
	}
	p := parser{seen: map[string]bool{}}
	for i, line := range bytes.Split(data, []byte("\n")) {
		if err := p.line(string(bytes.TrimSuffix(line, []byte("\r")))); err != nil {
			return Client{}, invalidf("line %d: %v", i+1, err)
		}
	}
	return p.finish()
}

type section int

const (
	sectionNone section = iota
	sectionInterface
	sectionPeer
)

type parser struct {
	c       Client
	section section
	peers   int
	seen    map[string]bool // "interface/privatekey" etc.: single-valued keys already read
}

// errorString is a parse error message; invalidf adds ErrInvalid once.
type errorString string

func (e errorString) Error() string { return string(e) }

func errorf(format string, a ...any) error {
	return errorString(fmt.Sprintf(format, a...))
}

func (p *parser) line(line string) error {
	for _, r := range line {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return errorf("control character %U", r)
		}
	}
	text, comment, hasComment := strings.Cut(line, "#")
	text = strings.Trim(text, " \t")
	if text == "" {
		if hasComment && p.section == sectionNone {
			return p.nameComment(comment)
		}
		return nil
	}
	if strings.HasPrefix(text, "[") {
		return p.header(text)
	}
	key, value, ok := strings.Cut(text, "=")
	if !ok {
		return errorf("the line is neither a section header nor key = value")
	}
	key = strings.Trim(key, " \t")
	value = strings.Trim(value, " \t")
	switch p.section {
	case sectionInterface:
		return p.interfaceKey(key, value)
	case sectionPeer:
		return p.peerKey(key, value)
	}
	return errorf("%s is outside a section; start with [Interface]", keyName(key))
}

// nameComment reads "# Name = ..." before the first section; any other
// comment is ignored.
func (p *parser) nameComment(comment string) error {
	key, value, ok := strings.Cut(comment, "=")
	if !ok || !strings.EqualFold(strings.Trim(key, " \t"), "Name") {
		return nil
	}
	if p.seen["name"] {
		return errorf("a second Name comment")
	}
	p.seen["name"] = true
	p.c.Name = CleanName(value)
	return nil
}

func (p *parser) header(text string) error {
	switch {
	case strings.EqualFold(text, "[Interface]"):
		if p.section != sectionNone {
			return errorf("[Interface] must come first, and once")
		}
		p.section = sectionInterface
	case strings.EqualFold(text, "[Peer]"):
		if p.section == sectionNone {
			return errorf("[Peer] before [Interface]")
		}
		if p.peers++; p.peers > 1 {
			return errorf("a client config has exactly one [Peer]")
		}
		p.section = sectionPeer
	default:
		return errorf("unknown section; a client config has [Interface] and [Peer]")
	}
	return nil
}

// once refuses a second occurrence of a single-valued key.
func (p *parser) once(sec, key string) error {
	id := sec + "/" + strings.ToLower(key)
	if p.seen[id] {
		return errorf("%s is given twice", keyName(key))
	}
	p.seen[id] = true
	return nil
}

func (p *parser) interfaceKey(key, value string) error {
	switch strings.ToLower(key) {
	case "privatekey":
		if err := p.once("interface", key); err != nil {
			return err
		}
		k, err := parseKey(key, value)
		p.c.PrivateKey = k
		return err
	case "address":
		return parseList(key, value, func(s string) error {
			a, err := netip.ParsePrefix(s)
			if err != nil {
				return errorf("an Address entry is not an address with a prefix length, such as 10.0.0.2/32")
			}
			p.c.Addresses = append(p.c.Addresses, a)
			return checkListErr("Address", len(p.c.Addresses), checkAddress(a))
		})
	case "dns":
		return parseList(key, value, func(s string) error {
			p.c.DNS = append(p.c.DNS, s)
			return checkListErr("DNS", len(p.c.DNS), checkDNS(s))
		})
	case "mtu":
		if err := p.once("interface", key); err != nil {
			return err
		}
		n, err := parseInt(key, value, wgrules.MinMTU, wgrules.MaxMTU)
		p.c.MTU = n
		return err
	}
	return errorf("%s is not allowed in a client's [Interface]", keyName(key))
}

func (p *parser) peerKey(key, value string) error {
	switch strings.ToLower(key) {
	case "publickey":
		if err := p.once("peer", key); err != nil {
			return err
		}
		k, err := parseKey(key, value)
		p.c.ServerPublicKey = k
		return err
	case "presharedkey":
		if err := p.once("peer", key); err != nil {
			return err
		}
		k, err := parseKey(key, value)
		p.c.PresharedKey = &k
		return err
	case "endpoint":
		if err := p.once("peer", key); err != nil {
			return err
		}
		p.c.Endpoint = value
		return lineErr(CheckEndpoint(value))
	case "allowedips":
		return parseList(key, value, func(s string) error {
			a, err := netip.ParsePrefix(s)
			if err != nil {
				return errorf("an AllowedIPs entry is not a prefix such as 0.0.0.0/0")
			}
			p.c.AllowedIPs = append(p.c.AllowedIPs, a)
			return checkListErr("AllowedIPs", len(p.c.AllowedIPs), checkAllowedIP(a))
		})
	case "persistentkeepalive":
		if err := p.once("peer", key); err != nil {
			return err
		}
		if strings.EqualFold(value, "off") {
			return nil
		}
		n, err := parseInt(key, value, 0, wgrules.MaxKeepalive)
		p.c.Keepalive = n
		return err
	}
	return errorf("%s is not allowed in a client's [Peer]", keyName(key))
}

// finish checks that the required keys were all there.
func (p *parser) finish() (Client, error) {
	switch {
	case p.section == sectionNone:
		return Client{}, invalidf("no [Interface] section")
	case p.peers == 0:
		return Client{}, invalidf("no [Peer] section")
	case !p.seen["interface/privatekey"]:
		return Client{}, invalidf("[Interface] has no PrivateKey")
	case !p.seen["peer/publickey"]:
		return Client{}, invalidf("[Peer] has no PublicKey")
	case !p.seen["peer/endpoint"]:
		return Client{}, invalidf("[Peer] has no Endpoint")
	}
	if err := p.c.validate(); err != nil {
		return Client{}, err
	}
	return p.c, nil
}

// parseKey parses a key by agentapi.ParseKey: 44 characters of padded
// standard base64, as wg(8) prints it.
func parseKey(name, value string) (wgtypes.Key, error) {
	k, err := agentapi.ParseKey(value)
	if err != nil {
		return wgtypes.Key{}, errorf("%s is not a base64 WireGuard key of 32 bytes", keyName(name))
	}
	return k, nil
}

func parseInt(name, value string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(value)
	if err != nil || !allDigits(value) || n < lo || n > hi {
		return 0, errorf("%s is not a number in %d..%d", keyName(name), lo, hi)
	}
	return n, nil
}

// parseList calls fn for each entry of a comma-separated value.
func parseList(name, value string, fn func(string) error) error {
	for _, s := range strings.Split(value, ",") {
		s = strings.Trim(s, " \t")
		if s == "" {
			return errorf("%s has an empty entry", keyName(name))
		}
		if err := fn(s); err != nil {
			return err
		}
	}
	return nil
}

func checkListErr(name string, n int, err error) error {
	if err == nil {
		err = checkList(name, n)
	}
	return lineErr(err)
}

// lineErr turns a validation error into a line error (ErrInvalid is added
// once, by Parse).
func lineErr(err error) error {
	if err == nil {
		return nil
	}
	return errorString(strings.TrimPrefix(err.Error(), ErrInvalid.Error()+": "))
}

// keyName is a key's name as an error may show it: only a short word of
// letters is quoted, so a misplaced key or secret never is.
func keyName(k string) string {
	if len(k) == 0 || len(k) > 24 {
		return "a key"
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return "a key"
		}
	}
	return k
}
