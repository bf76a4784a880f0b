package wgrules_test

import (
	"strings"
	"testing"

	"github.com/wgfleet/wgfleet/wgrules"
)

func TestCheckInterfaceName(t *testing.T) {
	accepted := []string{
		"wg0",
		"a",               // one character
		"wg_a=b+c.d-e",    // every allowed punctuation
		"abcdefghijklmno", // fifteen characters
		"123456789012345", // digits only
		"...",             // only "." and ".." are paths
		".wg",
	}
	for _, name := range accepted {
		if err := wgrules.CheckInterfaceName(name); err != nil {
			t.Errorf("CheckInterfaceName(%q) = %v, want nil", name, err)
		}
	}

	// Each refused name with what the error must say.
	refused := map[string]string{
		"":                       "is empty",
		".":                      `"." is refused`,
		"..":                     `".." is refused`,
		"abcdefghijklmnop":       "longer than 15 characters",
		strings.Repeat("w", 300): "longer than 15 characters",
		"wg/0":                   `character "/"`,
		"/wg0":                   `character "/"`,
		"../x":                   `character "/"`,
		`wg\0`:                   `character "\\"`,
		"wg 0":                   `character " "`,
		"wg\t0":                  `character "\t"`,
		"wg0\n":                  `character "\n"`,
		"wg\x000":                `character "\x00"`,
		"wg%2F":                  `character "%"`,
		"wg:0":                   `character ":"`,
		"wg@0":                   `character "@"`,
		"wgé":                    `character "\xc3"`,
	}
	for name, says := range refused {
		err := wgrules.CheckInterfaceName(name)
		if err == nil {
			t.Errorf("CheckInterfaceName(%.20q) = nil, want an error", name)
			continue
		}
		if msg := err.Error(); !strings.HasPrefix(msg, "interface name") || !strings.Contains(msg, says) || len(msg) > 120 {
			t.Errorf("CheckInterfaceName(%.20q) = %q: want a message of at most 120 bytes that starts with \"interface name\" and says %q", name, msg, says)
		}
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
