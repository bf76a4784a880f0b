package wgconfig

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

func mustKey(t testing.TB) wgtypes.Key {
	t.Helper()
	k, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func prefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

// fullClient sets every field.
func fullClient(t testing.TB) Client {
	psk := mustKey(t)
	return Client{
		Name:            "alice's phone",
		PrivateKey:      mustKey(t),
		Addresses:       prefixes("10.8.0.2/32", "fd00:8::2/128"),
		DNS:             []string{"1.1.1.1", "2606:4700:4700::1111", "corp.example"},
		MTU:             1420,
		ServerPublicKey: mustKey(t).PublicKey(),
		PresharedKey:    &psk,
		Endpoint:        "vpn.example.net:51820",
		AllowedIPs:      prefixes("0.0.0.0/0", "::/0"),
		Keepalive:       25,
	}
}

func minimalClient(t testing.TB) Client {
	return Client{
		PrivateKey:      mustKey(t),
		Addresses:       prefixes("10.8.0.2/32"),
		ServerPublicKey: mustKey(t).PublicKey(),
		Endpoint:        "203.0.113.7:51820",
		AllowedIPs:      prefixes("10.8.0.0/24"),
	}
}

func TestRenderParseRoundTrip(t *testing.T) {
	ipv6Endpoint := minimalClient(t)
	ipv6Endpoint.Endpoint = "[2001:db8::1]:443"
	tests := map[string]Client{
		"full":          fullClient(t),
		"minimal":       minimalClient(t),
		"ipv6 endpoint": ipv6Endpoint,
	}
	for name, c := range tests {
		t.Run(name, func(t *testing.T) {
			conf, err := Render(c)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			got, err := Parse(conf)
			if err != nil {
				t.Fatalf("Parse(Render(c)): %v\n%s", err, conf)
			}
			if !reflect.DeepEqual(got, c) {
				t.Fatalf("round trip changed the client:\n got %+v\nwant %+v", got, c)
			}
		})
	}
}

func TestRenderText(t *testing.T) {
	c := fullClient(t)
	conf, err := Render(c)
	if err != nil {
		t.Fatal(err)
	}
	want := "# Name = alice's phone\n" +
		"[Interface]\n" +
		"PrivateKey = " + c.PrivateKey.String() + "\n" +
		"Address = 10.8.0.2/32, fd00:8::2/128\n" +
		"DNS = 1.1.1.1, 2606:4700:4700::1111, corp.example\n" +
		"MTU = 1420\n" +
		"\n[Peer]\n" +
		"PublicKey = " + c.ServerPublicKey.String() + "\n" +
		"PresharedKey = " + c.PresharedKey.String() + "\n" +
		"Endpoint = vpn.example.net:51820\n" +
		"AllowedIPs = 0.0.0.0/0, ::/0\n" +
		"PersistentKeepalive = 25\n"
	if string(conf) != want {
		t.Fatalf("Render:\n%s\nwant:\n%s", conf, want)
	}
	m := minimalClient(t)
	conf, err = Render(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, absent := range []string{"Name", "DNS", "MTU", "PresharedKey", "PersistentKeepalive"} {
		if strings.Contains(string(conf), absent) {
			t.Errorf("minimal config has %s:\n%s", absent, conf)
		}
	}
}

func TestRenderCleansName(t *testing.T) {
	c := minimalClient(t)
	c.Name = " evil\n[Peer]\nPostUp = rm -rf /\t" + strings.Repeat("x", 100)
	conf, err := Render(c)
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(conf), "\n")
	if !strings.HasPrefix(first, "# Name = evil [Peer] PostUp = rm -rf /") || len([]rune(first)) != len("# Name = ")+64 {
		t.Fatalf("name line %q: want one cleaned comment line of 64 runes", first)
	}
	got, err := Parse(conf)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if got.Name != CleanName(c.Name) {
		t.Fatalf("parsed name %q, want %q", got.Name, CleanName(c.Name))
	}
}

func TestRenderRefuses(t *testing.T) {
	var zero wgtypes.Key
	tests := []struct {
		name   string
		modify func(*Client)
		want   string // in the message: what to set
	}{
		{"no endpoint", func(c *Client) { c.Endpoint = "" }, "set the node's endpoint"},
		{"no server key", func(c *Client) { c.ServerPublicKey = zero }, "set the public key of the node's interface"},
		{"no private key", func(c *Client) { c.PrivateKey = zero }, "private key is missing"},
		{"no address", func(c *Client) { c.Addresses = nil }, "set at least one Address"},
		{"no allowed IPs", func(c *Client) { c.AllowedIPs = nil }, "AllowedIPs is empty"},
		{"zero psk", func(c *Client) { c.PresharedKey = &zero }, "preshared key is all zeros"},
		{"endpoint without port", func(c *Client) { c.Endpoint = "vpn.example.net" }, "not host:port"},
		{"endpoint port 0", func(c *Client) { c.Endpoint = "vpn.example.net:0" }, "port"},
		{"endpoint port 65536", func(c *Client) { c.Endpoint = "vpn.example.net:65536" }, "port"},
		{"endpoint bare ipv6", func(c *Client) { c.Endpoint = "2001:db8::1:51820" }, "not host:port"},
		{"endpoint bracketed name", func(c *Client) { c.Endpoint = "[vpn.example.net]:51820" }, "brackets"},
		{"endpoint bad host", func(c *Client) { c.Endpoint = "vpn example:51820" }, "host name"},
		{"unmasked allowed IP", func(c *Client) { c.AllowedIPs = prefixes("10.8.0.1/24") }, "did you mean 10.8.0.0/24"},
		{"bad DNS", func(c *Client) { c.DNS = []string{"1.1.1.1; rm"} }, "DNS"},
		{"DNS like a bad IP", func(c *Client) { c.DNS = []string{"1.1.1.300"} }, "DNS"},
		{"MTU too small", func(c *Client) { c.MTU = 100 }, "MTU"},
		{"keepalive too large", func(c *Client) { c.Keepalive = 65536 }, "PersistentKeepalive"},
		{"keepalive negative", func(c *Client) { c.Keepalive = -1 }, "PersistentKeepalive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := fullClient(t)
			tt.modify(&c)
			conf, err := Render(c)
			if err == nil {
				t.Fatalf("Render succeeded:\n%s", conf)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			if strings.Contains(err.Error(), c.PrivateKey.String()) {
				t.Errorf("error quotes the private key")
			}
		})
	}
}

func TestCheckEndpoint(t *testing.T) {
	for _, ok := range []string{"vpn.example.net:51820", "1.2.3.4:1", "[2001:db8::1]:65535", "a-b_c.example.:80", "localhost:51820"} {
		if err := CheckEndpoint(ok); err != nil {
			t.Errorf("CheckEndpoint(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"", ":51820", "vpn:", "vpn:+80", "vpn:-1", "vpn:0x50", "[1.2.3.4]:80", "[fe80::1%eth0]:80",
		"[::ffff:1.2.3.4]:80", "1.2.3:80", "-vpn.example:80", "vpn..example:80", "v/pn:80", "vpn.example.net:51820:1"} {
		if err := CheckEndpoint(bad); err == nil {
			t.Errorf("CheckEndpoint(%q) = nil, want an error", bad)
		}
	}
}

func TestCleanNameIdempotent(t *testing.T) {
	for _, s := range []string{"", "  a  ", "a\x00b", "\xff\xfe", strings.Repeat("é", 70) + " ", "a\u2028b", " \u00a0x"} {
		once := CleanName(s)
		if twice := CleanName(once); twice != once {
			t.Errorf("CleanName(%q) = %q, again %q", s, once, twice)
		}
	}
}
