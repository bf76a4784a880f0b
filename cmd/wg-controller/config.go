package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/wgfleet/wgfleet/controller"
	"github.com/wgfleet/wgfleet/controller/secretbox"
)

// common are the flags every command shares.
type common struct {
	dataDir   string
	logFormat string
	logLevel  string
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.dataDir, "data-dir", controller.DefaultDataDir, "database and master key (env WG_CONTROLLER_DATA_DIR)")
	fs.StringVar(&c.logFormat, "log-format", "text", "log format: text or json (env WG_CONTROLLER_LOG_FORMAT)")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn, error (env WG_CONTROLLER_LOG_LEVEL)")
}

// envFallback fills every flag not given on the command line from its
// environment variable.
func envFallback(fs *flag.FlagSet, getenv func(string) string, names map[string]string) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var errs []error
	for flagName, env := range names {
		if set[flagName] {
			continue
		}
		if v := getenv(env); v != "" {
			if err := fs.Set(flagName, v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", env, v, err))
			}
		}
	}
	return errors.Join(errs...)
}

// commonEnv maps the shared flags to their environment variables.
func commonEnv() map[string]string {
	return map[string]string{
		"data-dir":   "WG_CONTROLLER_DATA_DIR",
		"log-format": "WG_CONTROLLER_LOG_FORMAT",
		"log-level":  "WG_CONTROLLER_LOG_LEVEL",
	}
}

func (c *common) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return nil, fmt.Errorf("log level %q: must be debug, info, warn or error", c.logLevel)
	}
	ho := &slog.HandlerOptions{Level: level}
	switch c.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, ho)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, ho)), nil
	}
	return nil, fmt.Errorf("log format %q: must be text or json", c.logFormat)
}

// masterKey reads WG_CONTROLLER_MASTER_KEY (base64 or hex of 32 bytes);
// nil when unset, so the key file in the data directory is used.
func masterKey(getenv func(string) string) ([]byte, error) {
	v := getenv("WG_CONTROLLER_MASTER_KEY")
	if v == "" {
		return nil, nil
	}
	k, err := secretbox.ParseKey(v)
	if err != nil {
		return nil, fmt.Errorf("WG_CONTROLLER_MASTER_KEY: %w", err)
	}
	return k, nil
}

// loadServe reads the serve command's flags and environment into a
// validated controller configuration.
func loadServe(args []string, getenv func(string) string, stderr io.Writer) (controller.Config, error) {
	fs := flag.NewFlagSet("wg-controller serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.register(fs)
	listen := fs.String("listen", controller.DefaultListen, "HTTP listen address of the UI and API (env WG_CONTROLLER_LISTEN)")
	poll := fs.Duration("poll-interval", controller.DefaultPollInterval, "how often every enabled node is polled (env WG_CONTROLLER_POLL_INTERVAL)")
	secure := fs.Bool("secure-cookies", false, "mark session cookies Secure; set it when served over TLS (env WG_CONTROLLER_SECURE_COOKIES)")
	sessionTTL := fs.Duration("session-ttl", 12*time.Hour, "how long a login lasts (env WG_CONTROLLER_SESSION_TTL)")
	if err := fs.Parse(args); err != nil {
		return controller.Config{}, err
	}
	if fs.NArg() > 0 {
		return controller.Config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	env := map[string]string{
		"listen": "WG_CONTROLLER_LISTEN", "poll-interval": "WG_CONTROLLER_POLL_INTERVAL",
		"secure-cookies": "WG_CONTROLLER_SECURE_COOKIES", "session-ttl": "WG_CONTROLLER_SESSION_TTL",
	}
	for k, v := range commonEnv() {
		env[k] = v
	}
	if err := envFallback(fs, getenv, env); err != nil {
		return controller.Config{}, err
	}
	log, err := c.logger(stderr)
	if err != nil {
		return controller.Config{}, err
	}
	key, err := masterKey(getenv)
	if err != nil {
		return controller.Config{}, err
	}
	cfg := controller.Config{
		Listen: *listen, DataDir: c.dataDir, MasterKey: key, PollInterval: *poll,
		AdminPassword: getenv("WG_CONTROLLER_ADMIN_PASSWORD"), BootstrapOut: stderr,
		SecureCookies: *secure, SessionTTL: *sessionTTL, Logger: log,
	}
	return cfg, cfg.Validate()
}

// offline is what the commands that open the database directly (token,
// rekey) share after their flags are registered on fs.
type offline struct {
	dataDir string
	log     *slog.Logger
	key     []byte // nil: the key file in dataDir
}

// parseOffline registers the common flags on fs, parses args, fills
// unset flags from the environment and returns the data directory, a
// logger and the master key from WG_CONTROLLER_MASTER_KEY.
func parseOffline(fs *flag.FlagSet, args []string, getenv func(string) string, stderr io.Writer) (offline, error) {
	var c common
	c.register(fs)
	if err := fs.Parse(args); err != nil {
		return offline{}, err
	}
	if fs.NArg() > 0 {
		return offline{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if err := envFallback(fs, getenv, commonEnv()); err != nil {
		return offline{}, err
	}
	log, err := c.logger(stderr)
	if err != nil {
		return offline{}, err
	}
	key, err := masterKey(getenv)
	if err != nil {
		return offline{}, err
	}
	return offline{dataDir: c.dataDir, log: log, key: key}, nil
}
