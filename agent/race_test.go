//go:build race

package agent_test

// raceEnabled: the race detector slows the device's work by an order of
// magnitude, so the tests at 60k peers skip themselves under it.
const raceEnabled = true
