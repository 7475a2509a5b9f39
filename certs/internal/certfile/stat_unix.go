//go:build unix

package certfile

import (
	"io/fs"
	"os"
	"strconv"
	"syscall"
)

// FileIdentity is the device and inode of a file, which change when a file
// is replaced by rename even if size and time stay the same.
func FileIdentity(st fs.FileInfo) string {
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		return strconv.FormatUint(uint64(sys.Dev), 16) + ":" + strconv.FormatUint(sys.Ino, 16)
	}
	return ""
}

// FileOwner returns the uid and gid of a file.
func FileOwner(st fs.FileInfo) (uid, gid uint32, ok bool) {
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		return sys.Uid, sys.Gid, true
	}
	return 0, 0, false
}

// openNonBlocking opens path for reading without waiting for a writer, as
// opening a FIFO otherwise would.
func openNonBlocking(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}
