package wgconfig

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/wgfleet/wgfleet/agent/agentapi/wgconf"
	"github.com/wgfleet/wgfleet/wgrules"
)

// MaxConfigSize bounds what Parse reads.
const MaxConfigSize = 64 << 10

// Parse reads a wg-quick client config strictly: one [Interface] with
// PrivateKey and Address (DNS and MTU optional), then exactly one [Peer]
// with PublicKey, Endpoint and AllowedIPs (PresharedKey and
// PersistentKeepalive optional). The syntax is agentapi/wgconf's, the
// one reader of WireGuard config text: keys and section names are matched
// without regard to case, as wg-quick and wg do; '#' starts a comment;
// control characters, invalid UTF-8, lines outside a section and more than
// MaxConfigSize bytes are refused. A "# Name = ..." comment before
// [Interface] gives Client.Name.
//
// Everything else is refused too: other keys (hooks such as PostUp among
// them), a repeated single-valued key, a second [Peer]. Whatever Parse
// accepts, Render writes back to an equal Client. Errors wrap ErrInvalid
// and never quote a key.
func Parse(data []byte) (Client, error) {
	doc, err := wgconf.Parse(data, MaxConfigSize)
	if err != nil {
		return Client{}, fromSyntax(err)
	}
	p := parser{seen: map[string]bool{}}
	for _, c := range doc.Preamble {
		if err := p.nameComment(c); err != nil {
			return Client{}, fromSyntax(err)
		}
	}
	for n, s := range doc.Sections {
		if err := p.section(n, s); err != nil {
			return Client{}, fromSyntax(err)
		}
	}
	return p.finish()
}

// fromSyntax makes a reading error of wgconf, or of the checks here, an
// error wrapping ErrInvalid once.
func fromSyntax(err error) error {
	var se *wgconf.SyntaxError
	if errors.As(err, &se) {
		return invalidf("%s", se.Error())
	}
	return err
}

type parser struct {
	c     Client
	iface bool // [Interface] was read
	peers int
	seen  map[string]bool // "interface/privatekey" etc.: single-valued keys already read
}

// nameComment reads "# Name = ..." before the first section; any other
// comment is ignored.
func (p *parser) nameComment(c wgconf.Comment) error {
	key, value, ok := strings.Cut(c.Text, "=")
	if !ok || !strings.EqualFold(strings.Trim(key, " \t"), "Name") {
		return nil
	}
	if p.seen["name"] {
		return c.Errorf("a second Name comment")
	}
	p.seen["name"] = true
	p.c.Name = CleanName(value)
	return nil
}

// section reads the n-th section: [Interface] first, then one [Peer].
func (p *parser) section(n int, s wgconf.Section) error {
	read := p.peerKey
	switch {
	case s.Name == wgconf.Interface && n != 0:
		return &wgconf.SyntaxError{Line: s.Line, Msg: "[Interface] must come first, and once"}
	case s.Name == wgconf.Interface:
		p.iface = true
		read = p.interfaceKey
	case n == 0:
		return &wgconf.SyntaxError{Line: s.Line, Msg: "[Peer] before [Interface]"}
	default:
		if p.peers++; p.peers > 1 {
			return &wgconf.SyntaxError{Line: s.Line, Msg: "a client config has exactly one [Peer]"}
		}
	}
	for _, e := range s.Entries {
		if err := read(e); err != nil {
			return onLine(e, err)
		}
	}
	return nil
}

// onLine puts a check's error on e's line, unless it is already a line's.
func onLine(e wgconf.Entry, err error) error {
	var se *wgconf.SyntaxError
	if errors.As(err, &se) {
		return err
	}
	return e.Errorf("%s", strings.TrimPrefix(err.Error(), ErrInvalid.Error()+": "))
}

// once refuses a second occurrence of a single-valued key.
func (p *parser) once(sec string, e wgconf.Entry) error {
	id := sec + "/" + strings.ToLower(e.Key)
	if p.seen[id] {
		return e.Errorf("%s is given twice", wgconf.KeyName(e.Key))
	}
	p.seen[id] = true
	return nil
}

func (p *parser) interfaceKey(e wgconf.Entry) error {
	switch strings.ToLower(e.Key) {
	case "privatekey":
		if err := p.once("interface", e); err != nil {
			return err
		}
		k, err := e.WGKey()
		p.c.PrivateKey = k
		return err
	case "address":
		return eachItem(e, func(s string) error {
			a, err := netip.ParsePrefix(s)
			if err != nil {
				return fmt.Errorf("an Address entry is not an address with a prefix length, such as 10.0.0.2/32")
			}
			p.c.Addresses = append(p.c.Addresses, a)
			return checkListErr("Address", len(p.c.Addresses), checkAddress(a))
		})
	case "dns":
		return eachItem(e, func(s string) error {
			p.c.DNS = append(p.c.DNS, s)
			return checkListErr("DNS", len(p.c.DNS), checkDNS(s))
		})
	case "mtu":
		if err := p.once("interface", e); err != nil {
			return err
		}
		n, err := e.Int(wgrules.MinMTU, wgrules.MaxMTU)
		p.c.MTU = n
		return err
	}
	return fmt.Errorf("%s is not allowed in a client's [Interface]", wgconf.KeyName(e.Key))
}

func (p *parser) peerKey(e wgconf.Entry) error {
	switch strings.ToLower(e.Key) {
	case "publickey":
		if err := p.once("peer", e); err != nil {
			return err
		}
		k, err := e.WGKey()
		p.c.ServerPublicKey = k
		return err
	case "presharedkey":
		if err := p.once("peer", e); err != nil {
			return err
		}
		k, err := e.WGKey()
		p.c.PresharedKey = &k
		return err
	case "endpoint":
		if err := p.once("peer", e); err != nil {
			return err
		}
		p.c.Endpoint = e.Value
		return CheckEndpoint(e.Value)
	case "allowedips":
		return eachItem(e, func(s string) error {
			a, err := netip.ParsePrefix(s)
			if err != nil {
				return fmt.Errorf("an AllowedIPs entry is not a prefix such as 0.0.0.0/0")
			}
			p.c.AllowedIPs = append(p.c.AllowedIPs, a)
			return checkListErr("AllowedIPs", len(p.c.AllowedIPs), checkAllowedIP(a))
		})
	case "persistentkeepalive":
		if err := p.once("peer", e); err != nil {
			return err
		}
		if strings.EqualFold(e.Value, "off") {
			return nil
		}
		n, err := e.Int(0, wgrules.MaxKeepalive)
		p.c.Keepalive = n
		return err
	}
	return fmt.Errorf("%s is not allowed in a client's [Peer]", wgconf.KeyName(e.Key))
}

// finish checks that the required keys were all there.
func (p *parser) finish() (Client, error) {
	switch {
	case !p.iface:
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

// eachItem calls fn for each item of e's comma-separated value.
func eachItem(e wgconf.Entry, fn func(string) error) error {
	items, err := e.List()
	if err != nil {
		return err
	}
	for _, s := range items {
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
	return err
}
