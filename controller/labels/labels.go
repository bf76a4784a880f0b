package labels

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Region is the key of the label that says where a node is. Drain and
// automatic moves stay among nodes of the same region.
const Region = "region"

// Limits of a label set.
const (
	MaxKeyLen   = 63 // bytes of a key
	MaxValueLen = 63 // bytes of a value
	MaxPerNode  = 32 // labels on one node, or in one selector
)

// Set is a node's labels, key to value. A nil or empty Set has no labels.
type Set map[string]string

// Error is a label that breaks a rule. Key is the key as given (cut to
// MaxKeyLen+8 bytes for the message); Problem says what is wrong and what
// is expected.
type Error struct {
	Key     string
	Problem string
}

func (e *Error) Error() string { return fmt.Sprintf("label %q: %s", e.Key, e.Problem) }

// What a key and a value may be, for messages.
const (
	keyRule   = "a key is 1 to 63 characters of a-z, 0-9, '.', '_', '-' and '/', starting and ending with a letter or digit (like region or example.com/tier)"
	valueRule = "a value is 1 to 63 characters of A-Z, a-z, 0-9, '.', '_' and '-', starting and ending with a letter or digit (like eu-west)"
)

// Check returns nil when every label of s follows the rules, or an *Error
// for the first one that does not, in key order (so the same input always
// names the same entry). Keys are lower case so that "Region" and
// "region" cannot both exist; values keep their case.
func Check(s Set) error {
	if len(s) > MaxPerNode {
		return &Error{Key: firstKey(s), Problem: fmt.Sprintf("too many labels: %d, at most %d", len(s), MaxPerNode)}
	}
	for _, k := range slices.Sorted(maps.Keys(s)) {
		if err := CheckKey(k); err != nil {
			return err
		}
		if err := CheckValue(k, s[k]); err != nil {
			return err
		}
	}
	return nil
}

// CheckKey returns nil when k may be a label key, else an *Error.
func CheckKey(k string) error {
	if !validToken(k, MaxKeyLen, func(c byte) bool { return lower(c) || digit(c) }, "._-/") {
		return &Error{Key: cut(k), Problem: keyRule}
	}
	return nil
}

// CheckValue returns nil when v may be the value of label k, else an
// *Error naming k.
func CheckValue(k, v string) error {
	if !validToken(v, MaxValueLen, func(c byte) bool { return lower(c) || upper(c) || digit(c) }, "._-") {
		msg := valueRule
		if v == "" {
			msg = "the value is empty; " + valueRule + " (leave the label out to remove it)"
		}
		return &Error{Key: cut(k), Problem: msg}
	}
	return nil
}

// validToken reports whether s is 1..maxLen bytes of alnum characters and
// the punctuation in punct, with an alnum character at both ends.
func validToken(s string, maxLen int, alnum func(byte) bool, punct string) bool {
	if s == "" || len(s) > maxLen || !alnum(s[0]) || !alnum(s[len(s)-1]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !alnum(c) && strings.IndexByte(punct, c) < 0 {
			return false
		}
	}
	return true
}

func lower(c byte) bool { return 'a' <= c && c <= 'z' }
func upper(c byte) bool { return 'A' <= c && c <= 'Z' }
func digit(c byte) bool { return '0' <= c && c <= '9' }

// cut shortens a key for a message.
func cut(s string) string {
	if len(s) > MaxKeyLen+8 {
		return s[:MaxKeyLen+8] + "..."
	}
	return s
}

func firstKey(s Set) string {
	keys := slices.Sorted(maps.Keys(s))
	if len(keys) == 0 {
		return ""
	}
	return cut(keys[0])
}

// Matches reports whether s has every label of sel with the same value.
// Every set matches an empty selector.
func (s Set) Matches(sel Set) bool {
	for k, v := range sel {
		if got, ok := s[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// Equal reports whether s and t hold the same labels; nil equals empty.
func (s Set) Equal(t Set) bool { return maps.Equal(s, t) }

// Clone returns a copy of s; a nil s gives an empty, non-nil Set.
func (s Set) Clone() Set {
	out := make(Set, len(s))
	maps.Copy(out, s)
	return out
}

// String is s as "k=v,k2=v2" in key order; "" for no labels. It is how
// selectors are named in messages.
func (s Set) String() string {
	var b strings.Builder
	for i, k := range slices.Sorted(maps.Keys(s)) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(s[k])
	}
	return b.String()
}

// ParseSelector parses selector terms of the form "key=value" (one per
// ?label= query parameter) into a Set that nodes must match all of. A
// term that is not key=value, breaks the rules of Check, or names a key
// twice with different values gives an *Error naming it.
func ParseSelector(terms []string) (Set, error) {
	sel := make(Set, len(terms))
	for _, t := range terms {
		k, v, ok := strings.Cut(t, "=")
		if !ok {
			return nil, &Error{Key: cut(t), Problem: "a selector is key=value, like region=eu-west"}
		}
		if err := CheckKey(k); err != nil {
			return nil, err
		}
		if err := CheckValue(k, v); err != nil {
			return nil, err
		}
		if old, dup := sel[k]; dup && old != v {
			return nil, &Error{Key: k, Problem: fmt.Sprintf("given twice, as %q and %q; a node has one value per key", old, v)}
		}
		sel[k] = v
	}
	if len(sel) > MaxPerNode {
		return nil, &Error{Key: firstKey(sel), Problem: fmt.Sprintf("too many selector terms: %d, at most %d", len(sel), MaxPerNode)}
	}
	return sel, nil
}
