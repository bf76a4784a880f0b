// Package deptest holds the direction of dependencies between the
// project's packages, and what each binary (cmd/wg-agent, cmd/wg-controller)
// may link, with tests over `go list` (docs/ARCHITECTURE.md, "The house" and
// "What each binary links").
package deptest
