// Package deptest holds the direction of dependencies between the
// project's packages (docs/ARCHITECTURE.md) with a test over `go list`.
package deptest
