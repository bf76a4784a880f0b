// Package cli is what the two commands share at their edge: one loader of
// typed flags, each with an optional environment variable and config-file
// field, one logger setup (--log-format, --log-level), and one main
// (Main) that runs a command under a signal context and sets its exit code.
//
// A value is taken from the first of: the command line, the environment,
// the config file (FromFile), the flag's default. Values are parsed by the
// flag's own parser after the command line is read, so every error names
// where the bad value came from (--mtu, WG_AGENT_MTU) and all of them are
// reported at once.
package cli
