package outbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// errSymlink is a symbolic link where the outbox keeps a file of its own.
var errSymlink = errors.New("is a symbolic link, which edgepub does not follow in its state dir")

// openNoFollow opens one of the outbox's own files without following a
// symbolic link: whoever may write the dir must not be able to point the
// lock, the lease or a segment at another file (as root, any file).
func openNoFollow(path string, flag int, perm os.FileMode) (*os.File, error) {
	f, err := os.OpenFile(path, flag|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, perm)
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("%s %w: remove the link (%w)", filepath.Base(path), errSymlink, err)
	}
	return f, err
}

// readNoFollow reads at most limit bytes of path without following a link.
func readNoFollow(path string, limit int64) ([]byte, error) {
	f, err := openNoFollow(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit))
}
