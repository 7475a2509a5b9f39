package outbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// seqLimit is the highest seq the outbox hands out. No device gets near it
// (a reading a millisecond for 290 million years); a segment name or lease
// above it comes from outside edgepub, and continuing would wrap seq to 0.
const seqLimit = 1 << 63

// ErrRefused is wrapped by the errors for which Open refuses dir instead of
// keeping readings in memory: using the dir or carrying on without it could
// make seq go back.
var ErrRefused = errors.New("outbox dir refused")

// refusal is an error matching ErrRefused whose text is only its message.
type refusal struct{ msg string }

func (r *refusal) Error() string        { return r.msg }
func (r *refusal) Is(target error) bool { return target == ErrRefused }

func refused(format string, args ...any) error {
	return &refusal{msg: fmt.Sprintf(format, args...)}
}

// checkOwner refuses, when running as root, a dir (or its parent) that
// another user owns or that group or others may write: they could replace
// the outbox's files with links or segments of their choosing.
func checkOwner(dir string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	for _, d := range []string{dir, filepath.Dir(dir)} {
		st, err := os.Stat(d)
		if err != nil {
			return err
		}
		sys, ok := st.Sys().(*syscall.Stat_t)
		if !ok {
			continue
		}
		switch {
		case sys.Uid != 0:
			return refused("%s is owned by uid %d, not root: running as root, edgepub will not keep its state where another user can change it; run `chown root:root %s && chmod 755 %s`, or run edgepub as the service user (systemctl start edgepub)", d, sys.Uid, d, d)
		case st.Mode().Perm()&0o022 != 0:
			return refused("%s can be written by group or others (mode %04o): running as root, edgepub will not keep its state there; run `chmod go-w %s`, or choose another --state-dir", d, st.Mode().Perm(), d)
		}
	}
	return nil
}
