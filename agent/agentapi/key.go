package agentapi

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// ParsePathKey decodes the peer key of a path: s is everything after
// "/peers/". It accepts raw standard base64 (slashes included),
// percent-encoded standard base64 (%2F, %2B, %3D in either case) and
// base64url, each with or without its "=" padding. Anything that does not
// decode to 32 bytes is an error wrapping ErrBadKey.
//
// s may come from the raw or from the percent-decoded path: base64 holds no
// "%", so a "%" always means percent-encoding.
func ParsePathKey(s string) (wgtypes.Key, error) {
	if strings.Contains(s, "%") {
		u, err := url.PathUnescape(s)
		if err != nil {
			return wgtypes.Key{}, fmt.Errorf("%w: bad percent-encoding", ErrBadKey)
		}
		s = u
	}
	unpadded := strings.TrimRight(s, "=")
	if len(unpadded) != len(s) && len(s)%4 != 0 {
		return wgtypes.Key{}, fmt.Errorf("%w: bad base64 padding", ErrBadKey)
	}
	enc := base64.RawStdEncoding
	if strings.ContainsAny(unpadded, "-_") {
		enc = base64.RawURLEncoding
	}
	return decodeKey(enc, unpadded)
}

// ParseKey decodes a key in its text form: padded standard base64 of 32
// bytes, exactly 44 characters, as wg(8) prints it and as a JSON body
// carries it. It is the one parser of keys in text, on both sides: bodies,
// operators' input, the controller's database, wg-quick files, key files.
// Unlike wgtypes.ParseKey it takes no line breaks inside. The all-zero key
// parses; refusing it is the caller's rule. Anything else is an error
// wrapping ErrBadKey.
func ParseKey(s string) (wgtypes.Key, error) {
	if len(s) != 44 || s[43] != '=' {
		return wgtypes.Key{}, fmt.Errorf("%w: want 44 characters of standard base64", ErrBadKey)
	}
	return decodeKey(base64.RawStdEncoding, s[:43])
}

// EscapeKey returns k as standard base64 with "/", "+" and "=" percent-
// encoded, ready to be one segment of a path.
func EscapeKey(k wgtypes.Key) string {
	s := k.String()
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '/':
			b.WriteString("%2F")
		case '+':
			b.WriteString("%2B")
		case '=':
			b.WriteString("%3D")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// decodeKey decodes unpadded base64 in enc's alphabet into a key. The
// alphabet is checked first because the decoders skip '\r' and '\n'.
func decodeKey(enc *base64.Encoding, s string) (wgtypes.Key, error) {
	alphabet := "+/"
	if enc == base64.RawURLEncoding {
		alphabet = "-_"
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(alphabet, c) >= 0) {
			return wgtypes.Key{}, fmt.Errorf("%w: not base64", ErrBadKey)
		}
	}
	b, err := enc.DecodeString(s)
	if err != nil {
		return wgtypes.Key{}, fmt.Errorf("%w: not base64", ErrBadKey)
	}
	if len(b) != wgtypes.KeyLen {
		return wgtypes.Key{}, fmt.Errorf("%w: %d bytes, want %d", ErrBadKey, len(b), wgtypes.KeyLen)
	}
	return wgtypes.Key(b), nil
}
