package leader

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/wgfleet/wgfleet/internal/testenv/pgtest"
)

// cluster is the PostgreSQL cluster the package's tests share; nil when
// the server binaries are missing (the tests that need it skip).
var cluster *pgtest.Cluster

func TestMain(m *testing.M) {
	c, skipped, err := pgtest.Shared(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if skipped != "" {
		fmt.Fprintln(os.Stderr, "PostgreSQL tests will skip:", skipped)
	}
	cluster = c
	code := m.Run()
	if c != nil {
		if err := c.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// requirePG returns the shared cluster or skips the test.
func requirePG(t *testing.T) *pgtest.Cluster {
	t.Helper()
	if cluster == nil {
		t.Skip("PostgreSQL server binaries not found")
	}
	return cluster
}
