package wgrules_test

import (
	"strings"
	"testing"

	"github.com/wgfleet/wgfleet/wgrules"
)

func TestCheckInterfaceName(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{name: "wg0", in: "wg0", ok: true},
		{name: "one character", in: "a", ok: true},
		{name: "every allowed punctuation", in: "wg_a=b+c.d-e", ok: true},
		{name: "fifteen characters", in: "abcdefghijklmno", ok: true},
		{name: "three dots", in: "...", ok: true},
		{name: "leading dot", in: ".wg", ok: true},
		{name: "digits only", in: "123456789012345", ok: true},

		{name: "empty", in: ""},
		{name: "dot", in: "."},
		{name: "dot dot", in: ".."},
		{name: "sixteen characters", in: "abcdefghijklmnop"},
		{name: "very long", in: strings.Repeat("w", 300)},
		{name: "slash", in: "wg/0"},
		{name: "leading slash", in: "/wg0"},
		{name: "dot dot slash", in: "../x"},
		{name: "backslash", in: `wg\0`},
		{name: "space", in: "wg 0"},
		{name: "tab", in: "wg\t0"},
		{name: "newline", in: "wg0\n"},
		{name: "NUL", in: "wg\x000"},
		{name: "percent", in: "wg%2F"},
		{name: "colon", in: "wg:0"},
		{name: "at", in: "wg@0"},
		{name: "non-ASCII", in: "wgé"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := wgrules.CheckInterfaceName(tt.in)
			if tt.ok && err != nil {
				t.Fatalf("CheckInterfaceName(%q) = %v, want nil", tt.in, err)
			}
			if !tt.ok {
				if err == nil {
					t.Fatalf("CheckInterfaceName(%q) = nil, want an error", tt.in)
				}
				if !strings.HasPrefix(err.Error(), "interface name") {
					t.Errorf("CheckInterfaceName(%q) = %q: the message does not say what it is about", tt.in, err)
				}
				if len(err.Error()) > 120 {
					t.Errorf("CheckInterfaceName(%q): message of %d bytes quotes too much: %q", tt.in, len(err.Error()), err)
				}
			}
		})
	}
}

func FuzzCheckInterfaceName(f *testing.F) {
	for _, s := range []string{"wg0", ".", "..", "", "wg/0", "abcdefghijklmnop"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if wgrules.CheckInterfaceName(s) != nil {
			return
		}
		// An accepted name is one path segment that changes no path's
		// meaning, and fits IFNAMSIZ.
		if len(s) == 0 || len(s) > wgrules.MaxInterfaceNameLen || s == "." || s == ".." ||
			strings.ContainsAny(s, "/\\%\x00 \t\r\n") {
			t.Fatalf("CheckInterfaceName accepted %q", s)
		}
	})
}
