package agent

import (
	"errors"
	"os"
	"syscall"
)

// syncData makes f's data durable, and of its metadata only what reading
// the data back needs (fdatasync): unlike f.Sync, it may skip the inode's
// timestamps. It is enough only when the write it follows did not change
// the file's size (the peer journal's appends into its preallocated tail).
func syncData(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		for {
			serr = syscall.Fdatasync(int(fd))
			if !errors.Is(serr, syscall.EINTR) {
				return
			}
		}
	}); err != nil {
		return err
	}
	if serr != nil {
		return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: serr}
	}
	return nil
}
