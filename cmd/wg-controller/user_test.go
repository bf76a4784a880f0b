package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/wgfleet/wgfleet/controller"
	"github.com/wgfleet/wgfleet/controller/auth"
	"github.com/wgfleet/wgfleet/controller/store"
)

// TestUserCommands: user add reads the password from standard input,
// list shows users and roles without secrets, passwd changes the
// password, rm removes a user but never the last admin; every change is
// in the audit log as "cli".
func TestUserCommands(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	env := envOf(nil)
	userCmd := func(stdin string, args ...string) (string, string, error) {
		var stdout, stderr bytes.Buffer
		err := user(ctx, append(args, "--data-dir", dir), env, strings.NewReader(stdin), &stdout, &stderr)
		return stdout.String(), stderr.String(), err
	}
	if _, stderr, err := userCmd("first admin password\n", "add", "--name", "root", "--role", "admin"); err != nil {
		t.Fatalf("user add: %v\n%s", err, stderr)
	}
	if _, _, err := userCmd("viewer password 1\r\n", "add", "--name", "vera"); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		stdin string
		args  []string
	}{
		"weak password":  {"short\n", []string{"add", "--name", "weak"}},
		"no password":    {"", []string{"add", "--name", "nopass"}},
		"taken name":     {"another password 1\n", []string{"add", "--name", "VERA"}},
		"bad role":       {"another password 1\n", []string{"add", "--name", "x", "--role", "root"}},
		"no name":        {"another password 1\n", []string{"passwd"}},
		"unknown user":   {"another password 1\n", []string{"passwd", "--name", "nobody"}},
		"last admin":     {"", []string{"rm", "--name", "root"}},
		"unknown sub":    {"", []string{"frob"}},
		"flag elsewhere": {"", []string{"list", "--role", "admin"}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, _, err := userCmd(tc.stdin, tc.args...); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	stdout, _, err := userCmd("", "list")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"USERNAME", "root", "admin", "vera", "viewer"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("list does not show %q:\n%s", want, stdout)
		}
	}
	for _, bad := range []string{"argon2", "password", "weak", "nopass"} {
		if strings.Contains(stdout, bad) {
			t.Errorf("list shows %q:\n%s", bad, stdout)
		}
	}
	if _, _, err := userCmd("viewer password 2\n", "passwd", "--name", "vera"); err != nil {
		t.Fatal(err)
	}

	st, err := controller.OpenStore(ctx, dir, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := auth.New(auth.Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Login(ctx, "vera", "viewer password 1", "127.0.0.1:1"); !errors.Is(err, auth.ErrBadCredentials) {
		t.Errorf("the old password after passwd: %v", err)
	}
	sess, err := a.Login(ctx, "vera", "viewer password 2", "127.0.0.1:1")
	if err != nil || sess.Role != auth.RoleViewer {
		t.Errorf("the new password after passwd: %+v, %v", sess, err)
	}
	st.Close()

	if _, _, err := userCmd("", "rm", "--name", "vera"); err != nil {
		t.Fatal(err)
	}
	if stdout, _, _ := userCmd("", "list"); strings.Contains(stdout, "vera") {
		t.Errorf("vera still listed after rm:\n%s", stdout)
	}
	st, err = controller.OpenStore(ctx, dir, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	entries, err := st.ListAudit(ctx, store.AuditFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, e := range entries {
		if e.Actor == "cli" {
			got[e.Action]++
		}
	}
	if got["user.create"] != 2 || got["user.password"] != 1 || got["user.delete"] != 1 {
		t.Errorf("audit entries by cli: %v", got)
	}
}

// TestUserHelp: `user --help` and each subcommand's -h print their own
// flags only and succeed.
func TestUserHelp(t *testing.T) {
	checkHelps(t, []helpCase{
		{[]string{"user", "--help"}, []string{"user add --name NAME", "user rm --name NAME", "standard input"}, nil},
		{[]string{"user", "add", "-h"}, []string{"--name string", "--role string", "--data-dir"}, []string{"--id", "--password"}},
		{[]string{"user", "passwd", "--help"}, []string{"--name string", "env WG_CONTROLLER_DATA_DIR"}, []string{"--role", "--password"}},
		{[]string{"user", "rm", "-h"}, []string{"--name string"}, []string{"--role"}},
		{[]string{"user", "list", "-h"}, []string{"--data-dir"}, []string{"--name", "--role"}},
	})
}
