package ui

import (
	"encoding/json"
	"io/fs"
	"maps"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// catalogDir holds one catalog per language (js/i18n.js imports each).
const catalogDir = "static/js/i18n"

// entry is one catalog entry: a string, or plural forms by Intl.PluralRules
// category ("one", "other"…; "other" is required).
type entry struct {
	text  string
	forms map[string]string
}

func (e *entry) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, &e.text); err == nil {
		return nil
	}
	return json.Unmarshal(b, &e.forms)
}

// placeholders lists the {name}s of e, in all its forms.
func (e entry) placeholders() []string {
	var all []string
	for _, s := range append([]string{e.text}, slices.Collect(maps.Values(e.forms))...) {
		for _, m := range placeholder.FindAllStringSubmatch(s, -1) {
			all = append(all, m[1])
		}
	}
	slices.Sort(all)
	return slices.Compact(all)
}

var placeholder = regexp.MustCompile(`\{(\w+)\}`)

func readCatalogs(t *testing.T) map[string]map[string]entry {
	t.Helper()
	files, err := fs.Glob(static, catalogDir+"/*.json")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]entry{}
	for _, f := range files {
		b, err := fs.ReadFile(static, f)
		if err != nil {
			t.Fatal(err)
		}
		var c map[string]entry
		if err := json.Unmarshal(b, &c); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[strings.TrimSuffix(path.Base(f), ".json")] = c
	}
	if out["en"] == nil || out["fr"] == nil {
		t.Fatalf("catalogs %v, want en and fr at least", slices.Sorted(maps.Keys(out)))
	}
	return out
}

// TestCatalogsAgree: every catalog has exactly English's keys, no entry
// is empty, plural entries have an "other" form, and a translation uses
// the same placeholders as the English text.
func TestCatalogsAgree(t *testing.T) {
	cats := readCatalogs(t)
	en := cats["en"]
	for lang, c := range cats {
		for key, e := range c {
			if _, ok := en[key]; !ok {
				t.Errorf("%s has %q, which en.json lacks", lang, key)
				continue
			}
			switch {
			case e.forms == nil && strings.TrimSpace(e.text) == "":
				t.Errorf("%s: %q is empty", lang, key)
			case e.forms != nil && e.forms["other"] == "":
				t.Errorf("%s: %q has plural forms without \"other\"", lang, key)
			}
			want := en[key].placeholders()
			if got := e.placeholders(); !slices.Equal(got, want) {
				t.Errorf("%s: %q uses placeholders %v, en.json %v", lang, key, got, want)
			}
		}
		for key := range en {
			if _, ok := c[key]; !ok {
				t.Errorf("%s lacks %q", lang, key)
			}
		}
	}
}

// The ways a source names a key: t("key", …) in a module, and
// data-i18n="key" (data-i18n-label="key") in a page. A key built at run
// time, t(`status.${s}`), names a prefix: some key must start with it.
var (
	literalKey = regexp.MustCompile(`\bt\(\s*"([^"]*)"`)
	pageKey    = regexp.MustCompile(`data-i18n(?:-label)?="([^"]*)"`)
	prefixKey  = regexp.MustCompile("\\bt\\(\\s*`([^`$]*)\\$\\{")
	otherCall  = regexp.MustCompile("\\bt\\(\\s*[^\"`\\s)]")
)

// TestEveryStringKeyExists reads the UI's sources for the keys they use:
// each must be in the catalogs, every t() call names its key as a string
// (so that this test can see it), and every catalog key is used.
func TestEveryStringKeyExists(t *testing.T) {
	en := readCatalogs(t)["en"]
	used := map[string]bool{}
	var prefixes []string
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ext := path.Ext(p)
		if ext != ".js" && ext != ".html" {
			return nil
		}
		b, err := fs.ReadFile(static, p)
		if err != nil {
			return err
		}
		src := string(b)
		var keys [][]string
		if ext == ".js" {
			if path.Base(p) != "i18n.js" { // the module that defines t
				for _, m := range otherCall.FindAllString(src, -1) {
					t.Errorf("%s: %q: the key of a t() call must be a string literal (or a `prefix.${…}` template)", p, m)
				}
			}
			keys = literalKey.FindAllStringSubmatch(src, -1)
			for _, m := range prefixKey.FindAllStringSubmatch(src, -1) {
				prefixes = append(prefixes, m[1])
			}
		} else {
			keys = pageKey.FindAllStringSubmatch(src, -1)
		}
		for _, m := range keys {
			used[m[1]] = true
			if _, ok := en[m[1]]; !ok {
				t.Errorf("%s: key %q is in no catalog", p, m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(used) < 100 {
		t.Fatalf("found %d keys in the sources; the pattern no longer matches the calls", len(used))
	}
	for _, pre := range prefixes {
		if !slices.ContainsFunc(slices.Collect(maps.Keys(en)), func(k string) bool { return strings.HasPrefix(k, pre) }) {
			t.Errorf("t(`%s${…}`): no key starts with %q", pre, pre)
		}
	}
	for key := range en {
		if !used[key] && !slices.ContainsFunc(prefixes, func(pre string) bool { return strings.HasPrefix(key, pre) }) {
			t.Errorf("catalog key %q is used nowhere", key)
		}
	}
}
