package egress

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestParseRule(t *testing.T) {
	tests := []struct {
		name, in, want string // want "" means an error
	}{
		{"ipv4 cidr", "10.0.0.0/8", "10.0.0.0/8"},
		{"ipv4 cidr port", "10.0.0.0/8:53", "10.0.0.0/8:53"},
		{"ipv4 cidr range", "192.0.2.0/24:8000-8999", "192.0.2.0/24:8000-8999"},
		{"host bits cleared", "10.1.2.3/8", "10.0.0.0/8"},
		{"ipv4 host", "10.1.2.3", "10.1.2.3/32"},
		{"ipv4 host port", "10.1.2.3:22", "10.1.2.3/32:22"},
		{"spaces trimmed", "  10.1.2.3:22 ", "10.1.2.3/32:22"},
		{"leading zeros", "10.1.2.3:022", "10.1.2.3/32:22"},
		{"range of one", "10.1.2.3:22-22", "10.1.2.3/32:22"},
		{"ipv6 cidr", "fd00::/8", "fd00::/8"},
		{"ipv6 cidr port", "fd00::/8:53", "fd00::/8:53"},
		{"ipv6 host", "fd00::1", "fd00::1/128"},
		{"ipv6 loopback", "::1", "::1/128"},
		{"ipv6 bracket port", "[fd00::1]:53", "fd00::1/128:53"},
		{"ipv6 bracket cidr port", "[fd00::/8]:53-54", "fd00::/8:53-54"},
		{"bracket no port", "[::1]", "::1/128"},
		{"everything", "0.0.0.0/0", "0.0.0.0/0"},
		{"max port", "1.2.3.4:65535", "1.2.3.4/32:65535"},

		{"empty", "", ""},
		{"blank", "   ", ""},
		{"port zero", "10.0.0.0/8:0", ""},
		{"port too big", "10.0.0.0/8:65536", ""},
		{"port sign", "10.0.0.0/8:+53", ""},
		{"port empty", "10.0.0.0/8:", ""},
		{"reversed range", "10.0.0.0/8:90-80", ""},
		{"open range", "10.0.0.0/8:80-", ""},
		{"bad prefix len", "10.0.0.0/33", ""},
		{"hostname", "example.com:80", ""},
		{"zone", "fe80::1%eth0", ""},
		{"zone in brackets", "[fe80::1%eth0]:53", ""},
		{"ipv4 mapped", "::ffff:127.0.0.1", ""},
		{"ipv4 mapped cidr", "::ffff:127.0.0.0/104", ""},
		{"missing bracket", "[fd00::1:53", ""},
		{"junk after bracket", "[fd00::1]x53", ""},
		{"two ports", "10.0.0.0/8:53:54", ""},
		{"too long", strings.Repeat("1", 70), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseRule(tt.in)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("ParseRule(%q) = %v, want an error", tt.in, r)
				}
				if !errors.Is(err, ErrInvalidRule) {
					t.Fatalf("error %v does not wrap ErrInvalidRule", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseRule(%q): %v", tt.in, err)
			}
			if got := r.String(); got != tt.want {
				t.Fatalf("ParseRule(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestRuleMatches(t *testing.T) {
	r, _ := ParseRule("10.0.0.0/8:53-54")
	any4, _ := ParseRule("10.0.0.0/8")
	tests := []struct {
		name string
		rule Rule
		addr string
		port uint16
		want bool
	}{
		{"in range", r, "10.1.1.1", 53, true},
		{"range end", r, "10.1.1.1", 54, true},
		{"port outside", r, "10.1.1.1", 55, false},
		{"addr outside", r, "11.1.1.1", 53, false},
		{"icmp vs port rule", r, "10.1.1.1", 0, false},
		{"icmp vs portless rule", any4, "10.1.1.1", 0, true},
		{"mapped address", any4, "::ffff:10.1.1.1", 80, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.rule.Matches(netip.MustParseAddr(tt.addr), tt.port); got != tt.want {
				t.Fatalf("%v.Matches(%s, %d) = %v", tt.rule, tt.addr, tt.port, got)
			}
		})
	}
}

// FuzzParseRule holds the parser to its promises on any input: no panic,
// errors wrap ErrInvalidRule, and an accepted rule is canonical (masked,
// never IPv4-mapped, sane ports) and reads back to itself from String.
func FuzzParseRule(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8", "10.0.0.0/8:53", "[fd00::1]:53", "fd00::/8:1-2", "::1", "1.2.3.4:22",
		"[::/0]:65535", "::ffff:1.2.3.4", "10.0.0.0/8:", "[", "]:", "1.2.3.4/32:0-0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRule(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidRule) {
				t.Fatalf("ParseRule(%q): error %v does not wrap ErrInvalidRule", s, err)
			}
			return
		}
		if !r.Prefix.IsValid() || r.Prefix != r.Prefix.Masked() || r.Prefix.Addr().Is4In6() || r.Prefix.Addr().Zone() != "" {
			t.Fatalf("ParseRule(%q) = %#v: prefix not canonical", s, r)
		}
		if !r.Ports.Any() && (r.Ports.First == 0 || r.Ports.First > r.Ports.Last) {
			t.Fatalf("ParseRule(%q) = %#v: bad port range", s, r)
		}
		again, err := ParseRule(r.String())
		if err != nil || again != r {
			t.Fatalf("ParseRule(%q) = %v, but its String %q reads back as %v, %v", s, r, r.String(), again, err)
		}
	})
}
