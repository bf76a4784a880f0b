//go:build !linux

package agent

import "github.com/wgfleet/wgfleet/agent/agentapi"

// diskStatus is not read outside Linux.
func diskStatus(string) *agentapi.DiskStatus { return nil }
