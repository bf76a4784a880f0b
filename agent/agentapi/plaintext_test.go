package agentapi

import "testing"

// plainTextSlow is plainText a byte at a time.
func plainTextSlow(v []byte) bool {
	for _, c := range v {
		if c < 0x20 || c >= 0x80 || c == '\\' {
			return false
		}
	}
	return true
}

func TestPlainText(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    string
		want bool
	}{
		{"empty", "", true},
		{"a key", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", true},
		{"printable edges", " ~\x7f !~\x7f !~\x7f", true},
		{"control in a word", "abc\x1fdefgh", false},
		{"control in the tail", "abcdefgh\x1f", false},
		{"backslash in a word", `abcdef\h`, false},
		{"backslash in the tail", `abcdefgh\`, false},
		{"high byte in a word", "abc\x80defgh", false},
		{"high byte after a low one", "\x00\xffabcdefgh", false},
		{"0x5c's neighbours", "[]]][[[[", true},
		{"0x20 after 0x1f", "\x1f                ", false},
		{"0x21 after 0x20", "  !!!!!!!!!!!!!!!!", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := plainText([]byte(tc.v)); got != tc.want || got != plainTextSlow([]byte(tc.v)) {
				t.Fatalf("plainText(%q) = %v, want %v", tc.v, got, tc.want)
			}
		})
	}
}

// FuzzPlainText holds the eight-at-a-time check to the byte at a time
// one, at every alignment.
func FuzzPlainText(f *testing.F) {
	f.Add([]byte("abcdefgh\\ijkl"))
	f.Add([]byte("\x1f\x20\x7f\x80\x5b\x5c\x5d"))
	f.Fuzz(func(t *testing.T, v []byte) {
		for off := range min(len(v), 9) {
			if got, want := plainText(v[off:]), plainTextSlow(v[off:]); got != want {
				t.Fatalf("plainText(%q) = %v, want %v", v[off:], got, want)
			}
		}
	})
}
