package store

import (
	"context"
	"strconv"
	"testing"
)

// TestWriterPageCache: the writer's connection runs with a page cache of
// writerCacheKiB, and the readers' with SQLite's default (their caches are
// dropped whenever the writer commits, so a larger one would only hold
// memory).
func TestWriterPageCache(t *testing.T) {
	sqliteOnly(t)
	s, _, _ := openTest(t)
	ctx := context.Background()
	want, err := strconv.Atoi(writerCacheKiB)
	if err != nil {
		t.Fatal(err)
	}
	var writer, reader int
	if err := s.db.QueryRowContext(ctx, "PRAGMA cache_size").Scan(&writer); err != nil {
		t.Fatal(err)
	}
	if err := s.rdb.QueryRowContext(ctx, "PRAGMA cache_size").Scan(&reader); err != nil {
		t.Fatal(err)
	}
	if writer != -want {
		t.Errorf("writer's cache_size %d, want %d (KiB)", writer, -want)
	}
	if reader == writer {
		t.Errorf("readers' cache_size %d, want SQLite's default, not the writer's", reader)
	}
}
