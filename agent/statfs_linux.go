package agent

import (
	"syscall"

	"github.com/wgfleet/wgfleet/agent/agentapi"
)

// diskStatus is the file system holding path; nil when it cannot be read.
func diskStatus(path string) *agentapi.DiskStatus {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil || st.Blocks == 0 {
		return nil
	}
	bs := uint64(st.Bsize)
	total, free, avail := st.Blocks*bs, st.Bfree*bs, st.Bavail*bs
	used := total - free
	d := &agentapi.DiskStatus{Path: path, Total: total, Used: used, Free: avail}
	if used+avail > 0 {
		d.Percent = round2(100 * float64(used) / float64(used+avail))
	}
	return d
}
