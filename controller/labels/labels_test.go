package labels_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/wgfleet/wgfleet/controller/labels"
)

func TestCheck(t *testing.T) {
	accepted := []labels.Set{
		nil,
		{},
		{"region": "eu-west", "provider": "hetzner"},
		{"example.com/tier": "Gold_1", "a": "B", "0": "9"},
		{strings.Repeat("k", 63): strings.Repeat("V", 63)},
	}
	for _, s := range accepted {
		if err := labels.Check(s); err != nil {
			t.Errorf("Check(%v) = %v, want nil", s, err)
		}
	}

	many := labels.Set{}
	for i := range labels.MaxPerNode + 1 {
		many[fmt.Sprintf("k%02d", i)] = "v"
	}
	// Each refused set with the key the error must name and a part of
	// its message.
	refused := []struct {
		name    string
		set     labels.Set
		key     string
		message string
	}{
		{"upper-case key", labels.Set{"Region": "eu"}, "Region", "a-z"},
		{"empty key", labels.Set{"": "x"}, "", "1 to 63"},
		{"key too long", labels.Set{strings.Repeat("k", 64): "x"}, strings.Repeat("k", 64), "1 to 63"},
		{"key ends in punctuation", labels.Set{"region-": "x"}, "region-", "starting and ending"},
		{"key with space", labels.Set{"my region": "x"}, "my region", "a-z"},
		{"empty value", labels.Set{"region": ""}, "region", "value is empty"},
		{"value too long", labels.Set{"region": strings.Repeat("v", 64)}, "region", "1 to 63"},
		{"value with slash", labels.Set{"region": "eu/west"}, "region", "A-Z, a-z"},
		{"value with space", labels.Set{"region": "eu west"}, "region", "A-Z, a-z"},
		{"value not ASCII", labels.Set{"region": "europé"}, "region", "A-Z, a-z"},
		{"first bad entry in key order", labels.Set{"b": "-", "a": "ok", "c": "-"}, "b", "value"},
		{"too many", many, "k00", "too many labels"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			err := labels.Check(tt.set)
			var le *labels.Error
			if !errors.As(err, &le) {
				t.Fatalf("Check = %v, want a *labels.Error", err)
			}
			if le.Key != tt.key || !strings.Contains(err.Error(), tt.message) {
				t.Errorf("Check = key %q, %q; want key %q and a message containing %q", le.Key, err, tt.key, tt.message)
			}
		})
	}
}

func TestParseSelector(t *testing.T) {
	sel, err := labels.ParseSelector([]string{"region=eu-west", "provider=hetzner", "region=eu-west"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "provider=hetzner,region=eu-west"; sel.String() != want {
		t.Errorf("selector = %q, want %q", sel, want)
	}
	if sel, err := labels.ParseSelector(nil); err != nil || len(sel) != 0 {
		t.Errorf("ParseSelector(nil) = %v, %v; want empty", sel, err)
	}
	refused := map[string][]string{
		"key=value":   {"region"},
		"a-z":         {"Region=eu"},
		"value":       {"region="},
		"given twice": {"region=eu", "region=us"},
	}
	for want, terms := range refused {
		if _, err := labels.ParseSelector(terms); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseSelector(%q) = %v, want an error containing %q", terms, err, want)
		}
	}
}

func TestMatches(t *testing.T) {
	node := labels.Set{"region": "eu-west", "provider": "hetzner"}
	tests := []struct {
		sel  labels.Set
		want bool
	}{
		{nil, true},
		{labels.Set{"region": "eu-west"}, true},
		{labels.Set{"region": "eu-west", "provider": "hetzner"}, true},
		{labels.Set{"region": "us-east"}, false},
		{labels.Set{"region": "eu-west", "tier": "gold"}, false},
		{labels.Set{"Region": "eu-west"}, false},
	}
	for _, tt := range tests {
		if got := node.Matches(tt.sel); got != tt.want {
			t.Errorf("Matches(%v) = %v, want %v", tt.sel, got, tt.want)
		}
	}
	if labels.Set(nil).Matches(labels.Set{"region": "x"}) {
		t.Error("a node without labels matched a selector")
	}
}

// FuzzParseSelector: a selector from a query string is either refused
// with an *Error, or every term it kept follows the rules and the
// selector written out parses back to itself.
func FuzzParseSelector(f *testing.F) {
	for _, s := range []string{"region=eu-west", "a=b&c=d", "region", "=x", "Region=eu", "k=v=w", "example.com/tier=gold"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		sel, err := labels.ParseSelector(strings.Split(q, "&"))
		if err != nil {
			var le *labels.Error
			if !errors.As(err, &le) {
				t.Fatalf("ParseSelector(%q) = %v, not a *labels.Error", q, err)
			}
			return
		}
		if err := labels.Check(sel); err != nil {
			t.Fatalf("ParseSelector(%q) kept %v, which Check refuses: %v", q, sel, err)
		}
		var terms []string
		if s := sel.String(); s != "" {
			terms = strings.Split(s, ",")
		}
		again, err := labels.ParseSelector(terms)
		if err != nil || !again.Equal(sel) {
			t.Fatalf("selector %v written as %q parses to %v, %v", sel, sel.String(), again, err)
		}
	})
}
