package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"strings"
	"testing"

	"github.com/wgfleet/wgfleet/agent/agentapi"
)

// TestEnrollTokenCommands: `enroll-token create` prints the join token
// alone on stdout and the join command on stderr; list shows it without
// the token; revoke ends it.
func TestEnrollTokenCommands(t *testing.T) {
	dir := t.TempDir()
	env := func(string) string { return "" }
	ctx := context.Background()
	var stdout, stderr bytes.Buffer
	pin := strings.Repeat("ab", 32)
	err := run(ctx, []string{"enroll-token", "create", "--name", "edge-7", "--label", "region=eu-west", "--label", "tier=1",
		"--expires", "2h", "--url", "https://ctl.example.net", "--join-pin", pin, "--data-dir", dir}, env, &stdout, &stderr)
	if err != nil {
		t.Fatalf("enroll-token create: %v\n%s", err, stderr.String())
	}
	token := strings.TrimSuffix(stdout.String(), "\n")
	tok, err := agentapi.ParseJoinToken(token)
	if err != nil || strings.Contains(token, "\n") {
		t.Fatalf("stdout must be the join token alone, got %q (%v)", stdout.String(), err)
	}
	if !strings.HasSuffix(token, "."+pin) {
		t.Errorf("token %q does not carry the pin", token)
	}
	if want := "wg-agent --join https://ctl.example.net --join-token " + token; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr does not show %q:\n%s", want, stderr.String())
	}

	stdout.Reset()
	if err := run(ctx, []string{"enroll-token", "list", "--data-dir", dir}, env, &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stdout.String(), tok.Secret) {
		t.Fatalf("the list shows the token:\n%s", stdout.String())
	}
	for _, want := range []string{"edge-7", "region=eu-west,tier=1", "active", tok.Display()} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("list does not show %q:\n%s", want, stdout.String())
		}
	}
	if err := run(ctx, []string{"enroll-token", "revoke", "--id", "1", "--data-dir", dir}, env, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	if err := run(ctx, []string{"enroll-token", "list", "--data-dir", dir}, env, &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "revoked") {
		t.Errorf("list after revoke:\n%s", stdout.String())
	}

	if err := run(ctx, []string{"enroll-token", "create", "-h"}, env, io.Discard, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("create -h: %v, want flag.ErrHelp", err)
	}
	for name, args := range map[string][]string{
		"bad label":        {"enroll-token", "create", "--label", "novalue", "--data-dir", dir},
		"bad expiry":       {"enroll-token", "create", "--expires", "1s", "--data-dir", dir},
		"no id":            {"enroll-token", "revoke", "--data-dir", dir},
		"unknown":          {"enroll-token", "frob"},
		"IPv6 supernet":    {"serve", "--pool-supernet", "fd00::/48", "--data-dir", dir},
		"pool too large":   {"serve", "--pool-supernet", "10.0.0.0/24", "--pool-prefix", "16", "--data-dir", dir},
		"bad public URL":   {"serve", "--public-url", "ctl.example.net", "--data-dir", dir},
		"bad join pin":     {"serve", "--join-pin", "abc", "--data-dir", dir},
		"unmasked network": {"serve", "--pool-supernet", "10.128.0.1/9", "--data-dir", dir},
	} {
		t.Run(name, func(t *testing.T) {
			if err := run(ctx, args, env, io.Discard, io.Discard); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}
