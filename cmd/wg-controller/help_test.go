package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// helpOf runs `wg-controller args... -h` (and --help) and returns the
// help, failing unless both print it and succeed.
func helpOf(t *testing.T, args ...string) string {
	t.Helper()
	var first string
	for _, h := range []string{"-h", "--help"} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), append(slices.Clone(args), h), func(string) string { return "" }, &stdout, &stderr)
		if !errors.Is(err, flag.ErrHelp) {
			t.Fatalf("wg-controller %s %s: %v, want the help\n%s", strings.Join(args, " "), h, err, stderr.String())
		}
		if stdout.Len() > 0 {
			t.Errorf("wg-controller %s %s wrote the help to stdout", strings.Join(args, " "), h)
		}
		if first == "" {
			first = stderr.String()
		} else if stderr.String() != first {
			t.Errorf("wg-controller %s: -h and --help differ", strings.Join(args, " "))
		}
	}
	return first
}

// helpCase is a help and what it must and must not say.
type helpCase struct {
	args          []string
	want, notWant []string
}

// checkHelps runs each case's command, which must print its help and exit
// 0, and checks what the help says: a notWant is another subcommand's flag.
func checkHelps(t *testing.T, cases []helpCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stderr strings.Builder
			err := run(context.Background(), tt.args, func(string) string { return "" }, io.Discard, &stderr)
			if !errors.Is(err, flag.ErrHelp) {
				t.Fatalf("error %v, want flag.ErrHelp (exit 0)", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("help does not say %q:\n%s", w, stderr.String())
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(stderr.String(), w) {
					t.Errorf("help lists %q, another subcommand's flag:\n%s", w, stderr.String())
				}
			}
		})
	}
}

// flagsOf are the flags a help lists.
func flagsOf(help string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`(?m)^  --([a-z0-9-]+)`).FindAllStringSubmatch(help, -1) {
		out = append(out, m[1])
	}
	slices.Sort(out)
	return out
}

// subcommandsOf are the subcommands a command's help names: in lines
// "wg-controller CMD SUB ..." or in its list under "commands:".
func subcommandsOf(cmd, help string) []string {
	var subs []string
	for _, m := range regexp.MustCompile(`wg-controller `+regexp.QuoteMeta(cmd)+` ([a-z][a-z-]*)`).FindAllStringSubmatch(help, -1) {
		subs = append(subs, m[1])
	}
	if _, list, ok := strings.Cut(help, "\ncommands:\n"); ok {
		for _, line := range strings.Split(list, "\n") {
			if !strings.HasPrefix(line, "  ") {
				break
			}
			subs = append(subs, strings.Fields(line)[0])
		}
	}
	slices.Sort(subs)
	return slices.Compact(subs)
}

// TestHelpEverywhere walks every command the main help names and every
// subcommand each command's help names: -h and --help print the help,
// exit 0, and list the command's own flags only (the table below, for the
// commands whose flags depend on their subcommand).
func TestHelpEverywhere(t *testing.T) {
	offline := []string{"data-dir", "database", "log-format", "log-level"}
	remote := []string{"json", "server", "timeout", "token"}
	nodeInput := []string{"agent-url", "allow-overlap", "dns", "drift-policy", "endpoint", "interface", "label", "max-peers", "name",
		"pool", "pool6", "secret", "secret-file", "tls-fingerprint", "weight"}
	peerInput := []string{"allowed-ips", "data-limit", "dns", "expires", "keepalive", "limit-action", "name",
		"node-keepalive", "preshared-key", "public-key"}
	with := func(sets ...[]string) []string { return slices.Concat(sets...) }
	own := map[string][]string{
		"token create":        with(offline, []string{"name", "expires", "role"}),
		"token list":          offline,
		"token revoke":        with(offline, []string{"id"}),
		"node list":           with(remote, []string{"label"}),
		"node show":           remote,
		"node add":            with(remote, nodeInput, []string{"disabled"}),
		"node edit":           with(remote, nodeInput, []string{"clear-labels"}),
		"node enable":         remote,
		"node disable":        remote,
		"node test":           remote,
		"node rm":             with(remote, []string{"force"}),
		"peer list":           with(remote, []string{"label", "limit", "node", "search", "status"}),
		"peer show":           remote,
		"peer add":            with(remote, peerInput, []string{"address", "disabled", "node", "placement-label"}),
		"peer edit":           with(remote, peerInput),
		"peer rm":             remote,
		"peer config":         {"out", "server", "timeout", "token"},
		"peer qr":             {"invert", "out", "server", "timeout", "token"},
		"peer move":           with(remote, []string{"any-region", "to"}),
		"peer restrict":       remote,
		"peer allow":          remote,
		"enroll-token revoke": with(offline, []string{"id"}),
		"user add":            with(offline, []string{"name", "role"}),
		"user list":           offline,
		"user passwd":         with(offline, []string{"name"}),
		"user rm":             with(offline, []string{"name"}),
	}
	top := helpOf(t)
	var commands []string
	for _, m := range regexp.MustCompile(`(?m)^  wg-controller ([a-z][a-z-]*)`).FindAllStringSubmatch(top, -1) {
		commands = append(commands, m[1])
	}
	slices.Sort(commands)
	commands = slices.Compact(commands)
	walked := map[string]bool{}
	for _, cmd := range commands {
		help := helpOf(t, cmd)
		if !strings.HasPrefix(help, "usage:") || !strings.Contains(help, "wg-controller "+cmd) {
			t.Errorf("wg-controller %s -h does not start with its usage:\n%s", cmd, help)
		}
		walked[cmd] = true
		for _, sub := range subcommandsOf(cmd, help) {
			name := cmd + " " + sub
			sh := helpOf(t, cmd, sub)
			if !strings.HasPrefix(sh, "usage: wg-controller "+name) {
				t.Errorf("wg-controller %s -h does not start with its usage:\n%s", name, sh)
			}
			walked[name] = true
			if want, ok := own[name]; ok {
				want = slices.Clone(want)
				slices.Sort(want)
				if got := flagsOf(sh); !slices.Equal(got, want) {
					t.Errorf("wg-controller %s -h lists the flags\n  %v\nwant\n  %v", name, got, want)
				}
			}
		}
	}
	for _, want := range []string{"serve", "demo", "token", "enroll-token", "rekey", "migrate-db", "version", "healthcheck", "node", "peer", "user"} {
		if !walked[want] {
			t.Errorf("the walk missed the command %q (main help:\n%s)", want, top)
		}
	}
	for name := range own {
		if !walked[name] {
			t.Errorf("the walk missed %q", name)
		}
	}
}
