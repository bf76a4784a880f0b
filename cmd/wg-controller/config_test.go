package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"

	"github.com/wgfleet/wgfleet/controller"
	"github.com/wgfleet/wgfleet/controller/poller"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// TestLoadServeDocumented: every flag of the serve table in
// docs/OPERATIONS.md, and its environment variable, sets what it says;
// the command line wins over the environment.
func TestLoadServeDocumented(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		flag, env, value string
		got              func(controller.Config) string
	}{
		{"listen", "WG_CONTROLLER_LISTEN", "127.0.0.1:7000", func(c controller.Config) string { return c.Listen }},
		{"data-dir", "WG_CONTROLLER_DATA_DIR", dir, func(c controller.Config) string { return c.DataDir }},
		{"database", "WG_CONTROLLER_DATABASE_URL", "postgres://wgfleet@db.example.net/wgfleet", func(c controller.Config) string { return c.Database }},
		{"poll-interval", "WG_CONTROLLER_POLL_INTERVAL", "1m30s", func(c controller.Config) string { return c.PollInterval.String() }},
		{"poll-workers", "WG_CONTROLLER_POLL_WORKERS", "8", func(c controller.Config) string { return strconv.Itoa(c.PollWorkers) }},
		{"poll-spread", "WG_CONTROLLER_POLL_SPREAD", "0.5", func(c controller.Config) string { return strconv.FormatFloat(c.PollSpread, 'g', -1, 64) }},
		{"session-ttl", "WG_CONTROLLER_SESSION_TTL", "2h0m0s", func(c controller.Config) string { return c.SessionTTL.String() }},
		{"secure-cookies", "WG_CONTROLLER_SECURE_COOKIES", "true", func(c controller.Config) string { return strconv.FormatBool(c.SecureCookies) }},
		{"replica-name", "WG_CONTROLLER_REPLICA_NAME", "ctl-2", func(c controller.Config) string { return c.ReplicaName }},
		{"public-url", "WG_CONTROLLER_PUBLIC_URL", "https://ctl.example.net", func(c controller.Config) string { return c.PublicURL }},
		{"join-pin", "WG_CONTROLLER_JOIN_PIN", strings.Repeat("3a", 32), func(c controller.Config) string { return c.JoinPin.String() }},
		{"pool-supernet", "WG_CONTROLLER_POOL_SUPERNET", "10.64.0.0/10", func(c controller.Config) string { return c.PoolSupernet.String() }},
		{"pool-prefix", "WG_CONTROLLER_POOL_PREFIX", "26", func(c controller.Config) string { return strconv.Itoa(c.PoolBits) }},
		{"memory-limit", "WG_CONTROLLER_MEMORY_LIMIT", "943718400", func(c controller.Config) string { return strconv.FormatInt(c.MemoryLimit, 10) }},
	}
	for _, tt := range tests {
		t.Run(tt.flag, func(t *testing.T) {
			def, _, err := loadServe(nil, envOf(nil), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if tt.got(def) == tt.value {
				t.Fatalf("the test value %q is the default", tt.value)
			}
			cfg, _, err := loadServe([]string{"--" + tt.flag + "=" + tt.value}, envOf(nil), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.got(cfg); got != tt.value {
				t.Errorf("--%s=%s gave %q", tt.flag, tt.value, got)
			}
			cfg, _, err = loadServe(nil, envOf(map[string]string{tt.env: tt.value}), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.got(cfg); got != tt.value {
				t.Errorf("%s=%s gave %q", tt.env, tt.value, got)
			}
		})
	}
	cfg, _, err := loadServe([]string{"--listen", "127.0.0.1:7002", "--secure-cookies=false"},
		envOf(map[string]string{"WG_CONTROLLER_LISTEN": "127.0.0.1:7001", "WG_CONTROLLER_SECURE_COOKIES": "true"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:7002" || cfg.SecureCookies {
		t.Fatalf("the environment won over the command line: listen %q secure %v", cfg.Listen, cfg.SecureCookies)
	}
	cfg, _, err = loadServe(nil, envOf(map[string]string{"WG_CONTROLLER_LOG_LEVEL": "error", "WG_CONTROLLER_ADMIN_PASSWORD": "a-long-enough-password"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Logger.Enabled(context.Background(), slog.LevelWarn) || !cfg.Logger.Enabled(context.Background(), slog.LevelError) {
		t.Error("WG_CONTROLLER_LOG_LEVEL=error did not set the level")
	}
	if cfg.AdminPassword != "a-long-enough-password" {
		t.Errorf("admin password %q not taken from the environment", cfg.AdminPassword)
	}
}

// TestLoadServeMemoryLimit: --memory-limit takes a size with a unit, and
// none; a limit under controller.MinMemoryLimit is refused.
func TestLoadServeMemoryLimit(t *testing.T) {
	for value, want := range map[string]int64{"900MiB": 900 << 20, "1GB": 1e9, "none": 0, "0": 0} {
		cfg, _, err := loadServe([]string{"--memory-limit", value}, envOf(nil), io.Discard)
		if err != nil || cfg.MemoryLimit != want {
			t.Errorf("--memory-limit %s: %d, %v; want %d", value, cfg.MemoryLimit, err, want)
		}
	}
	_, _, err := loadServe([]string{"--memory-limit", "10MiB"}, envOf(nil), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "memory limit") {
		t.Errorf("--memory-limit 10MiB: %v, want it refused as below the minimum", err)
	}
}

// TestLoadServePollWorkers: --poll-workers defaults to the poller's
// default; outside 0..controller.MaxPollWorkers it is refused.
func TestLoadServePollWorkers(t *testing.T) {
	cfg, _, err := loadServe(nil, envOf(nil), io.Discard)
	if err != nil || cfg.PollWorkers != poller.DefaultWorkers {
		t.Errorf("no --poll-workers: %d, %v; want %d", cfg.PollWorkers, err, poller.DefaultWorkers)
	}
	for _, value := range []string{"-1", strconv.Itoa(controller.MaxPollWorkers + 1)} {
		_, _, err := loadServe([]string{"--poll-workers", value}, envOf(nil), io.Discard)
		if err == nil || !strings.Contains(err.Error(), "poll workers") {
			t.Errorf("--poll-workers %s: %v, want it refused", value, err)
		}
	}
	cfg, _, err = loadServe([]string{"--poll-workers", strconv.Itoa(controller.MaxPollWorkers)}, envOf(nil), io.Discard)
	if err != nil || cfg.PollWorkers != controller.MaxPollWorkers {
		t.Errorf("--poll-workers %d: %d, %v", controller.MaxPollWorkers, cfg.PollWorkers, err)
	}
}

// TestLoadServePollSpread: --poll-spread defaults to the controller's
// default; 0 turns pacing off (a negative Config.PollSpread, since the
// Config's 0 is the default); 1 or more, below 0, or no number is refused.
func TestLoadServePollSpread(t *testing.T) {
	cfg, _, err := loadServe(nil, envOf(nil), io.Discard)
	if err != nil || cfg.PollSpread != controller.DefaultPollSpread {
		t.Errorf("no --poll-spread: %v, %v; want %v", cfg.PollSpread, err, controller.DefaultPollSpread)
	}
	cfg, _, err = loadServe([]string{"--poll-spread", "0"}, envOf(nil), io.Discard)
	if err != nil || cfg.PollSpread >= 0 {
		t.Errorf("--poll-spread 0: %v, %v; want a negative PollSpread (not paced)", cfg.PollSpread, err)
	}
	for _, value := range []string{"1", "1.5", "-0.2", "NaN", "often"} {
		_, _, err := loadServe([]string{"--poll-spread", value}, envOf(nil), io.Discard)
		if err == nil || !strings.Contains(err.Error(), "share of the poll interval") {
			t.Errorf("--poll-spread %s: %v, want it refused", value, err)
		}
	}
}

// TestLoadServeBadEnv: a bad environment value is an error naming it.
func TestLoadServeBadEnv(t *testing.T) {
	for env, want := range map[string]string{
		"WG_CONTROLLER_POLL_INTERVAL":  `WG_CONTROLLER_POLL_INTERVAL: "often" is not a duration`,
		"WG_CONTROLLER_SESSION_TTL":    `WG_CONTROLLER_SESSION_TTL: "often" is not a duration`,
		"WG_CONTROLLER_SECURE_COOKIES": `WG_CONTROLLER_SECURE_COOKIES: "often" is not true or false`,
		"WG_CONTROLLER_LOG_LEVEL":      `WG_CONTROLLER_LOG_LEVEL: log level "often"`,
		"WG_CONTROLLER_LOG_FORMAT":     `WG_CONTROLLER_LOG_FORMAT: log format "often"`,
		"WG_CONTROLLER_MASTER_KEY":     "WG_CONTROLLER_MASTER_KEY",
		"WG_CONTROLLER_MEMORY_LIMIT":   `WG_CONTROLLER_MEMORY_LIMIT: "often" is not a number of bytes`,
		"WG_CONTROLLER_POLL_WORKERS":   `WG_CONTROLLER_POLL_WORKERS: "often"`,
		"WG_CONTROLLER_POLL_SPREAD":    `WG_CONTROLLER_POLL_SPREAD: "often"`,
	} {
		t.Run(env, func(t *testing.T) {
			_, _, err := loadServe(nil, envOf(map[string]string{env: "often"}), io.Discard)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("error %v, want one containing %q", err, want)
			}
		})
	}
}

// TestTokenHelp: `token --help` and each subcommand's -h print their own
// flags and succeed; a subcommand refuses another's flag.
func TestTokenHelp(t *testing.T) {
	checkHelps(t, []helpCase{
		{[]string{"token", "--help"}, []string{"token create --name NAME", "token revoke --id ID"}, nil},
		{[]string{"token", "-h"}, []string{"token list"}, nil},
		{[]string{"token", "help"}, []string{"token list"}, nil},
		{[]string{"token", "create", "-h"}, []string{"--name string", "--data-dir"}, []string{"--id"}},
		{[]string{"token", "revoke", "--help"}, []string{"--id int", "env WG_CONTROLLER_DATA_DIR"}, []string{"--name"}},
		{[]string{"token", "list", "-h"}, []string{"--data-dir"}, []string{"--name", "--id"}},
	})
	for _, args := range [][]string{
		{"token", "list", "--name", "x", "--data-dir", t.TempDir()},
		{"token", "create", "--name", "x", "--id", "1", "--data-dir", t.TempDir()},
		{"token", "frobnicate"},
		{"token"},
	} {
		err := run(context.Background(), args, envOf(nil), io.Discard, io.Discard)
		if err == nil || errors.Is(err, flag.ErrHelp) {
			t.Errorf("%q: %v, want an error", args, err)
		}
	}
}
