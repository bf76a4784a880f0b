package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"

	"github.com/wgfleet/wgfleet/controller"
	"github.com/wgfleet/wgfleet/internal/cli"
)

// rekey rotates the master key straight in the database. The controller
// must be stopped: a running one keeps sealing with the old key. With the
// key file the new key replaces it; with WG_CONTROLLER_MASTER_KEY the new
// key is printed once on stdout for the operator to put in its place.
func rekey(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	s := cli.NewSet("wg-controller rekey", stderr)
	s.SetUsage(`usage: wg-controller rekey [--data-dir DIR]

Stop the controller first: rekey opens the database directly, and a running
controller would go on sealing new secrets with the old key. Back up the data
directory (database and key) before you run it.

Makes a new master key and reseals every node secret and peer key under it in
one transaction. With DATA_DIR/master.key the new key replaces the file; with
WG_CONTROLLER_MASTER_KEY no file is written and the new key is printed once on
stdout: set it in the environment before the next start.`)
	o, err := parseOffline(s, args, getenv, stderr)
	if err != nil {
		return err
	}
	newKey, n, err := controller.Rekey(ctx, o.dataDir, o.database, o.key, o.log)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "resealed %d node secrets, %d private keys and %d preshared keys (and %d webhook secrets, %d TOTP secrets) under a new master key\n",
		n.Nodes, n.PrivateKeys, n.PresharedKeys, n.Webhooks, n.TOTPSecrets)
	if o.key == nil {
		fmt.Fprintf(stderr, "%s/%s now holds the new key; back it up in place of the old one\n", o.dataDir, controller.KeyFile)
		return nil
	}
	fmt.Fprintln(stdout, base64.StdEncoding.EncodeToString(newKey))
	fmt.Fprintln(stderr, "the new key is on stdout, shown only this once: set WG_CONTROLLER_MASTER_KEY to it before the next start; the old key no longer opens the database")
	return nil
}
