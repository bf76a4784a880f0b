package wgconfig

import (
	"strings"
	"testing"

	"github.com/wgfleet/wgfleet/wgrules"
)

func TestFileName(t *testing.T) {
	tests := []struct {
		name string
		id   int64
		want string
	}{
		{"alice", 1, "wg-alice.conf"},
		{"Alice's Phone", 1, "wg-Alice-s-Ph-1.conf"},
		{"a very long peer name indeed", 1, "wg-a-very-lon-1.conf"},
		{"laptop-123456789", 1, "wg-laptop-123-1.conf"},
		// A name that fits is kept whole; one that does not is cut and
		// followed by the peer's id, so the two differ.
		{"alice-laptop", 7, "wg-alice-laptop.conf"},
		{"alice-laptop-2", 8, "wg-alice-lapt-8.conf"},
		{"alice-laptop-3", 123456, "wg-alice-123456.conf"},
		{"alice-laptop-4", 12345678901, "wg-12345678901.conf"},
		{"../../etc/passwd", 7, "wg-etc-passwd.conf"},
		{"a/b\\c d", 7, "wg-a-b-c-d.conf"},
		{"élan", 7, "wg-lan.conf"},
		{"....", 7, "wg-7.conf"},
		{"", 123, "wg-123.conf"},
		{"日本", 9, "wg-9.conf"},
		{"", 1234567890123456, "wg-123456789012.conf"},
		{"abcdefghijk-xyz", 1, "wg-abcdefghij-1.conf"},
	}
	for _, tt := range tests {
		got := FileName(tt.name, tt.id)
		if got != tt.want {
			t.Errorf("FileName(%q, %d) = %q, want %q", tt.name, tt.id, got, tt.want)
		}
		if err := wgrules.CheckInterfaceName(strings.TrimSuffix(got, ".conf")); err != nil {
			t.Errorf("FileName(%q, %d) = %q: %v", tt.name, tt.id, got, err)
		}
	}
}

func FuzzFileName(f *testing.F) {
	f.Add("alice", int64(1))
	f.Add("../x", int64(-3))
	f.Fuzz(func(t *testing.T, name string, id int64) {
		got := FileName(name, id)
		base, ok := strings.CutSuffix(got, ".conf")
		if !ok || wgrules.CheckInterfaceName(base) != nil || strings.ContainsAny(base, "/\\") || !strings.HasPrefix(base, "wg-") {
			t.Fatalf("FileName(%q, %d) = %q", name, id, got)
		}
	})
}
