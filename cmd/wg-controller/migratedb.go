package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/wgfleet/wgfleet/controller"
	"github.com/wgfleet/wgfleet/controller/secretbox"
	"github.com/wgfleet/wgfleet/controller/store"
	"github.com/wgfleet/wgfleet/internal/cli"
)

// migrateDB copies an install's database between SQLite and PostgreSQL
// (store.Copy). stdout gets one "TABLE ROWS" line per table copied.
func migrateDB(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	s := cli.NewSet("wg-controller migrate-db", stderr)
	s.SetUsage(`usage: wg-controller migrate-db --from DIR|URL --to URL|DIR

Stop the controller first. Copies every row of the install at --from (a data
directory, whose SQLite database is read, or a PostgreSQL URL) into --to (an
empty PostgreSQL database, or a data directory without a database), in one
transaction, and checks the row count of every table on both sides. Sealed
secrets are copied as they are: the master key stays the same. It is read from
WG_CONTROLLER_MASTER_KEY, else from master.key in the data directory of --from
or of --to; the copy is opened with it before this command succeeds.

A URL with a password shows in the process list: give it in MIGRATE_DB_FROM or
MIGRATE_DB_TO instead of --from or --to.`)
	from := cli.String(s, "from", "MIGRATE_DB_FROM", "", "the install to copy: a data directory or a PostgreSQL URL")
	to := cli.String(s, "to", "MIGRATE_DB_TO", "", "where to copy it: an empty PostgreSQL database (URL) or a data directory without a database")
	if err := s.Parse(args, getenv); err != nil {
		return err
	}
	if from.Get() == "" || to.Get() == "" {
		return errors.New("migrate-db: --from and --to are required")
	}
	fromDSN, fromDir := dbLocation(from.Get())
	toDSN, toDir := dbLocation(to.Get())
	key, err := masterKey(getenv)
	if err != nil {
		return err
	}
	if key == nil {
		if key, err = keyFromDirs(fromDir, toDir); err != nil {
			return fmt.Errorf("migrate-db: %w", err)
		}
	}
	box, err := secretbox.New(key)
	if err != nil {
		return fmt.Errorf("migrate-db: master key: %w", err)
	}
	if toDir != "" {
		if err := os.MkdirAll(toDir, 0o700); err != nil {
			return fmt.Errorf("migrate-db: creating %s: %w", toDir, err)
		}
	}
	report, err := store.Copy(ctx, fromDSN, toDSN, box)
	if err != nil {
		return fmt.Errorf("migrate-db: %w", err)
	}
	var rows int64
	for _, t := range report.Tables {
		fmt.Fprintf(stdout, "%s %d\n", t.Table, t.Rows)
		rows += t.Rows
	}
	fmt.Fprintf(stderr, "copied %d rows in %d tables; the counts match and the copy opens under the master key\n", rows, len(report.Tables))
	return nil
}

// dbLocation is what Open takes for a --from or --to value: a PostgreSQL
// URL as it is, or the SQLite file of a data directory (then also that
// directory).
func dbLocation(v string) (dsn, dir string) {
	if store.IsPostgresURL(v) {
		return v, ""
	}
	return filepath.Join(v, controller.DBFile), v
}

// keyFromDirs reads master.key from the first of dirs that has one.
func keyFromDirs(dirs ...string) ([]byte, error) {
	for _, d := range dirs {
		if d == "" {
			continue
		}
		key, err := secretbox.LoadKeyFile(filepath.Join(d, controller.KeyFile))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		return key, err
	}
	return nil, errors.New("no master key: set WG_CONTROLLER_MASTER_KEY, or put the install's " + controller.KeyFile + " in the data directory of --from or --to")
}
