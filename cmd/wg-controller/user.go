package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"golang.org/x/term"

	"github.com/wgfleet/wgfleet/controller/auth"
	"github.com/wgfleet/wgfleet/controller/store"
	"github.com/wgfleet/wgfleet/internal/cli"
)

const userUsage = `usage:
  wg-controller user add --name NAME [--role admin|operator|viewer] [--data-dir DIR]
  wg-controller user list [--data-dir DIR]
  wg-controller user passwd --name NAME [--data-dir DIR]
  wg-controller user rm --name NAME [--data-dir DIR]
add and passwd read the password from standard input (one line), or ask
for it twice without echo when standard input is a terminal; never from a
flag, which would show in the process list.
Run "wg-controller user SUBCOMMAND -h" for the flags of a subcommand.`

// user manages the users who sign in to the UI and API, straight in the
// database (as "cli" in the audit log): for the first setup, and for an
// admin who is locked out. rm refuses to remove the last admin.
func user(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, userUsage)
		return errors.New("user: give a subcommand: add, list, passwd or rm")
	}
	sub := args[0]
	s := cli.NewSet("wg-controller user "+sub, stderr)
	var name, role *cli.Flag[string]
	switch sub {
	case "add":
		name = cli.String(s, "name", "", "", "username of the new user")
		role = cli.String(s, "role", "", string(auth.RoleViewer), "role of the new user: admin, operator or viewer")
	case "passwd", "rm":
		name = cli.String(s, "name", "", "", "username of the user")
	case "list":
	case "-h", "--help", "help":
		fmt.Fprintln(stderr, userUsage)
		return flag.ErrHelp
	default:
		fmt.Fprintln(stderr, userUsage)
		return fmt.Errorf("user: unknown subcommand %q (add, list, passwd, rm)", sub)
	}
	o, err := parseOffline(s, args[1:], getenv, stderr)
	if err != nil {
		return err
	}
	if name != nil && name.Get() == "" {
		return fmt.Errorf("user %s: --name is required", sub)
	}
	var r auth.Role
	if role != nil {
		if r, err = auth.ParseRole(role.Get()); err != nil {
			return fmt.Errorf("user add: --role: %w", err)
		}
	}
	var password string
	if sub == "add" || sub == "passwd" {
		// Read before opening the store: a prompt must not hold it open.
		if password, err = readPassword(stdin, stderr); err != nil {
			return fmt.Errorf("user %s: %w", sub, err)
		}
		if err := auth.CheckPasswordStrength(password); err != nil {
			return fmt.Errorf("user %s: %w", sub, err)
		}
	}
	st, a, err := o.openAuth(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	const actor = "cli"
	switch sub {
	case "add":
		u, err := a.CreateUser(ctx, actor, name.Get(), password, r)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "created user %d %q with role %s\n", u.ID, u.Username, u.Role)
	case "list":
		users, err := a.ListUsers(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tUSERNAME\tROLE\tTOTP\tCREATED")
		for _, u := range users {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", u.ID, u.Username, u.Role, map[bool]string{true: "on", false: "off"}[u.TOTPEnabled], when(u.CreatedAt, "-"))
		}
		return tw.Flush()
	case "passwd", "rm":
		u, err := st.GetUserByUsername(ctx, name.Get())
		if errors.Is(err, store.ErrUserNotFound) {
			return fmt.Errorf("user %s: no user %q (see user list)", sub, name.Get())
		}
		if err != nil {
			return err
		}
		if sub == "passwd" {
			if err := a.SetPassword(ctx, actor, u.ID, password); err != nil {
				return err
			}
			fmt.Fprintf(stderr, "set the password of %q; their sessions have ended\n", u.Username)
			return nil
		}
		if err := a.DeleteUser(ctx, actor, u.ID); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "removed user %q; their sessions ended and their API tokens are revoked\n", u.Username)
	}
	return nil
}

// readPassword reads a new password: from a terminal, asked twice without
// echo on stderr; otherwise the first line of in (a script's pipe), its
// line ending dropped.
func readPassword(in io.Reader, prompt io.Writer) (string, error) {
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(prompt, "New password: ")
		first, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(prompt)
		if err != nil {
			return "", fmt.Errorf("reading the password: %w", err)
		}
		fmt.Fprint(prompt, "Again: ")
		again, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(prompt)
		if err != nil {
			return "", fmt.Errorf("reading the password: %w", err)
		}
		if string(first) != string(again) {
			return "", errors.New("the two passwords differ")
		}
		return string(first), nil
	}
	line, err := bufio.NewReader(io.LimitReader(in, auth.MaxPasswordLength+2)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the password from standard input: %w", err)
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if line == "" {
		return "", errors.New("no password on standard input (give it as one line, or run in a terminal to be asked)")
	}
	return line, nil
}
