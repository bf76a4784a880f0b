// Package metrics exposes the fleet's state to Prometheus: per node its
// status, peers, generations, drift and traffic, read from the store at
// each scrape (so the figures are exactly what the API shows), plus the
// controller process's own Go and process metrics. Nothing is kept in
// package state: New returns a handler over its own registry.
package metrics
