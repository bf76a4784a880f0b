package tunnel

import (
	"strings"
	"testing"
)

func TestIndexEmptyLine(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    string
	}{
		{"empty", ""},
		{"one newline", "\n"},
		{"pair alone", "\n\n"},
		{"no pair", "a\nb\nc\nd\ne\nf\ng\nh\ni\n"},
		{"pair across words", "1234567\n\n234567"},
		{"pair at the end of a word", "123456\n\n1234567"},
		{"pair in the tail", "123456781234567\n\n"},
		{"pair at the start", "\n\nabcdefghijklmnop"},
		{"newlines apart", "\n1\n2\n3\n4\n5\n6\n7\n8\n9\n"},
		{"three newlines", "abcdefg\n\n\nh"},
		{"0x0b after a newline", "abc\n\v\n\vdefghijkl\n\nm"},
		{"bytes above 0x80", "\xff\x8a\n\x8a\n\n\x0b\x0b\x0b\x0b\x0b"},
		{"reply", "public_key=ab\nprotocol_version=1\nrx_bytes=0\nallowed_ip=10.0.0.1/32\n\nerrno=0\n\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, want := indexEmptyLine(tc.s), strings.Index(tc.s, "\n\n"); got != want {
				t.Fatalf("indexEmptyLine(%q) = %d, want %d", tc.s, got, want)
			}
		})
	}
}

// FuzzIndexEmptyLine holds the word-wide search to strings.Index, at every
// alignment of the text.
func FuzzIndexEmptyLine(f *testing.F) {
	f.Add("a\nb\n\nc\n\n")
	f.Add("1234567\n\n234567")
	f.Add("\v\n\v\n\n\x0b\x8a\n")
	f.Add(strings.Repeat("allowed_ip=10.0.0.1/32\n", 5) + "\n")
	f.Fuzz(func(t *testing.T, s string) {
		for off := range min(len(s), 9) {
			if got, want := indexEmptyLine(s[off:]), strings.Index(s[off:], "\n\n"); got != want {
				t.Fatalf("indexEmptyLine(%q) = %d, want %d", s[off:], got, want)
			}
		}
	})
}

// BenchmarkIndexEmptyLine is the search through a reply of 10k peers,
// which holds no empty line, against strings.Index.
func BenchmarkIndexEmptyLine(b *testing.B) {
	var sb strings.Builder
	for range 10000 {
		sb.WriteString("public_key=" + strings.Repeat("ab", 32) + "\npreshared_key=" + strings.Repeat("0", 64) +
			"\nprotocol_version=1\nendpoint=192.0.2.1:51820\nlast_handshake_time_sec=0\nlast_handshake_time_nsec=0\n" +
			"tx_bytes=0\nrx_bytes=0\npersistent_keepalive_interval=0\nallowed_ip=10.0.0.1/32\n")
	}
	text := sb.String()
	b.SetBytes(int64(len(text)))
	b.Run("words", func(b *testing.B) {
		for b.Loop() {
			if indexEmptyLine(text) != -1 {
				b.Fatal("found one")
			}
		}
	})
	b.Run("strings.Index", func(b *testing.B) {
		for b.Loop() {
			if at := strings.Index(text, "\n\n"); at != -1 {
				b.Fatalf("found one at %d", at)
			}
		}
	})
}
