package main

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestCLIDocMatchesHelp holds the command tables of docs/CLI.md to the
// commands: a row names flags its commands have (for "same flags but
// ...", the add command's but those), and every flag of a command but the
// connection and output ones is named in its row or in the text under
// its table.
func TestCLIDocMatchesHelp(t *testing.T) {
	b, err := os.ReadFile("../../docs/CLI.md")
	if err != nil {
		t.Fatal(err)
	}
	common := []string{"json", "server", "timeout", "token"}
	flagRe := regexp.MustCompile(`--([a-z][a-z0-9-]*)`)
	flagsIn := func(s string) []string {
		var out []string
		for _, m := range flagRe.FindAllStringSubmatch(s, -1) {
			out = append(out, m[1])
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	own := func(args ...string) []string {
		return slices.DeleteFunc(flagsOf(helpOf(t, args...)), func(f string) bool { return slices.Contains(common, f) })
	}
	cmdRe := regexp.MustCompile("`((?:node|peer) [a-z]+)")
	sameRe := regexp.MustCompile(`same flags(?: but ([^\]]*))?\]`)
	rows := 0
	for _, section := range []string{"node", "peer"} {
		_, body, ok := strings.Cut(string(b), "\n## "+strings.ToUpper(section[:1])+section[1:]+"s\n")
		if !ok {
			t.Fatalf("docs/CLI.md has no section for the %s commands", section)
		}
		body, _, _ = strings.Cut(body, "\n## ")
		var notes []string
		for _, line := range strings.Split(body, "\n") {
			if !strings.HasPrefix(line, "|") {
				notes = append(notes, line)
			}
		}
		noted := flagsIn(strings.Join(notes, "\n"))
		for _, line := range strings.Split(body, "\n") {
			if !strings.HasPrefix(line, "| `"+section+" ") {
				continue
			}
			cell, _, _ := strings.Cut(strings.TrimPrefix(line, "| "), " | ")
			named := flagsIn(cell)
			for _, m := range cmdRe.FindAllStringSubmatch(cell, -1) {
				rows++
				cmd := strings.Fields(m[1])
				have := own(cmd...)
				want := named
				if same := sameRe.FindStringSubmatch(cell); same != nil {
					but := flagsIn(same[1])
					want = slices.Concat(own(section, "add"), named)
					want = slices.DeleteFunc(want, func(f string) bool { return slices.Contains(but, f) })
					slices.Sort(want)
					want = slices.Compact(want)
				}
				for _, f := range want {
					if !slices.Contains(have, f) {
						t.Errorf("docs/CLI.md: %s has no --%s", m[1], f)
					}
				}
				for _, f := range have {
					if !slices.Contains(want, f) && !slices.Contains(noted, f) {
						t.Errorf("docs/CLI.md does not name --%s of %s", f, m[1])
					}
				}
			}
		}
	}
	if rows < 15 {
		t.Fatalf("read %d commands in docs/CLI.md's tables; the pattern no longer matches them", rows)
	}
}
