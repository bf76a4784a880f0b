// Package wgconf reads the text format of WireGuard configurations, the
// one wg(8) and wg-quick(8) share: sections ([Interface], [Peer]) of
// "Key = Value" lines, '#' comments, comma-separated lists. It knows the
// syntax only, strictly, and leaves to its callers which keys they accept
// and what a value means: the agent reads a wg(8) config for syncconf,
// the controller a client's wg-quick config. Both may import it (it
// imports agentapi, for the one key parser, wgtypes and the standard
// library only), and it is fuzzed.
//
// No error quotes a value, so a misplaced key or secret never reaches an
// error message.
package wgconf

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agentapi"
)

// ErrInvalid is what every error of this package is: errors.Is(err,
// ErrInvalid) holds for each *SyntaxError.
var ErrInvalid = errors.New("invalid WireGuard config")

// SyntaxError is a config that cannot be read, or a value that is not
// what its key takes. Line counts from 1; 0 is the config as a whole.
// Msg never quotes a value.
type SyntaxError struct {
	Line int
	Msg  string
}

// Error is "line N: Msg", or Msg for the whole config.
func (e *SyntaxError) Error() string {
	if e.Line == 0 {
		return e.Msg
	}
	return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
}

// Is reports whether target is ErrInvalid.
func (e *SyntaxError) Is(target error) bool { return target == ErrInvalid }

// Section names as Parse reports them, whatever their case in the text.
const (
	Interface = "Interface"
	Peer      = "Peer"
)

// Entry is one "Key = Value" line: Key as written, Value trimmed of
// blanks, Line counted from 1.
type Entry struct {
	Line  int
	Key   string
	Value string
}

// Section is one [Interface] or [Peer] with its entries in order.
type Section struct {
	Name    string // Interface or Peer
	Line    int
	Entries []Entry
}

// Comment is a comment line's text after its '#'.
type Comment struct {
	Line int
	Text string
}

// Doc is a parsed config. Preamble holds the comments before the first
// section.
type Doc struct {
	Preamble []Comment
	Sections []Section
}

// Parse reads data. It refuses more than maxSize bytes, invalid UTF-8,
// control characters other than tab, a section other than [Interface] or
// [Peer], a line that is neither a header nor "Key = Value", a key with no
// name, and an entry outside a section. Keys and section names match
// without regard to case, as wg does; '#' starts a comment anywhere on a
// line. Errors are *SyntaxError and name the line.
func Parse(data []byte, maxSize int) (Doc, error) {
	if len(data) > maxSize {
		return Doc{}, &SyntaxError{Msg: fmt.Sprintf("config is larger than %d bytes", maxSize)}
	}
	if !utf8.Valid(data) {
		return Doc{}, &SyntaxError{Msg: "config is not valid UTF-8"}
	}
	var d Doc
	for i, raw := range bytes.Split(data, []byte("\n")) {
		n := i + 1
		line := string(bytes.TrimSuffix(raw, []byte("\r")))
		for _, r := range line {
			if r < 0x20 && r != '\t' || r == 0x7f {
				return Doc{}, lineError(n, "control character %U", r)
			}
		}
		text, comment, hasComment := strings.Cut(line, "#")
		text = strings.Trim(text, " \t")
		switch {
		case text == "":
			if hasComment && len(d.Sections) == 0 {
				d.Preamble = append(d.Preamble, Comment{Line: n, Text: comment})
			}
		case strings.HasPrefix(text, "["):
			name, ok := sectionName(text)
			if !ok {
				return Doc{}, lineError(n, "unknown section; a config has [Interface] and [Peer]")
			}
			d.Sections = append(d.Sections, Section{Name: name, Line: n})
		default:
			key, value, ok := strings.Cut(text, "=")
			if !ok {
				return Doc{}, lineError(n, "the line is neither a section header nor key = value")
			}
			key = strings.Trim(key, " \t")
			if key == "" {
				return Doc{}, lineError(n, "a value without a key")
			}
			if len(d.Sections) == 0 {
				return Doc{}, lineError(n, "%s is outside a section; start with [Interface] or [Peer]", KeyName(key))
			}
			s := &d.Sections[len(d.Sections)-1]
			s.Entries = append(s.Entries, Entry{Line: n, Key: key, Value: strings.Trim(value, " \t")})
		}
	}
	return d, nil
}

func sectionName(text string) (string, bool) {
	switch {
	case strings.EqualFold(text, "[Interface]"):
		return Interface, true
	case strings.EqualFold(text, "[Peer]"):
		return Peer, true
	}
	return "", false
}

// lineError is a syntax error on line n.
func lineError(n int, format string, a ...any) error {
	return &SyntaxError{Line: n, Msg: fmt.Sprintf(format, a...)}
}

// Errorf is an error about entry e, for callers that check values: a
// *SyntaxError on e's line, like Parse's own.
func (e Entry) Errorf(format string, a ...any) error {
	return lineError(e.Line, format, a...)
}

// Errorf is an error about comment c, like Entry.Errorf.
func (c Comment) Errorf(format string, a ...any) error {
	return lineError(c.Line, format, a...)
}

// Is reports whether e's key is name, without regard to case.
func (e Entry) Is(name string) bool { return strings.EqualFold(e.Key, name) }

// WGKey reads e's value as a base64 WireGuard key of 32 bytes.
func (e Entry) WGKey() (wgtypes.Key, error) {
	k, err := agentapi.ParseKey(e.Value)
	if err != nil {
		return wgtypes.Key{}, e.Errorf("%s is not a base64 WireGuard key of 32 bytes", KeyName(e.Key))
	}
	return k, nil
}

// Int reads e's value as a decimal number in lo..hi (digits only).
func (e Entry) Int(lo, hi int) (int, error) {
	n, err := strconv.Atoi(e.Value)
	if err != nil || e.Value == "" || strings.Trim(e.Value, "0123456789") != "" || n < lo || n > hi {
		return 0, e.Errorf("%s is not a number in %d..%d", KeyName(e.Key), lo, hi)
	}
	return n, nil
}

// List splits e's comma-separated value into trimmed items. An empty item
// is an error.
func (e Entry) List() ([]string, error) {
	var out []string
	for _, s := range strings.Split(e.Value, ",") {
		s = strings.Trim(s, " \t")
		if s == "" {
			return nil, e.Errorf("%s has an empty entry", KeyName(e.Key))
		}
		out = append(out, s)
	}
	return out, nil
}

// Once returns an error when section s holds key name more than once.
func (s Section) Once(name string) error {
	seen := false
	for _, e := range s.Entries {
		if e.Is(name) {
			if seen {
				return e.Errorf("%s is given twice", KeyName(e.Key))
			}
			seen = true
		}
	}
	return nil
}

// KeyName is a key's name as an error may show it: only a short word of
// letters is quoted, so a misplaced key or secret never is.
func KeyName(k string) string {
	if len(k) == 0 || len(k) > 24 {
		return "a key"
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return "a key"
		}
	}
	return k
}
