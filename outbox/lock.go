package outbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

const lockName = "lock"

// errDirInUse means another process holds the outbox dir. Two writers would
// hand out the same seqs and interleave records, so the second one keeps its
// readings in memory until it is restarted alone.
var errDirInUse = errors.New("outbox dir is in use by another process")

// lockDir takes a POSIX record lock on dir/lock. The lock belongs to the
// process, so it vanishes with it (SIGKILL included) and a second Open in the
// same process, as tests do to simulate a crash, is not refused.
func lockDir(dir string) (*os.File, error) {
	f, err := openNoFollow(filepath.Join(dir, lockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create outbox lock file: %w", err)
	}
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0, Start: 0, Len: 0}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &lk); err != nil {
		f.Close()
		if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EACCES) {
			return nil, errDirInUse
		}
		return nil, fmt.Errorf("lock outbox dir: %w", err)
	}
	return f, nil
}
