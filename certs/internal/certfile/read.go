package certfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"strconv"
)

// MaxSize bounds what is read from the cert directory; real certificate
// and key files are a few kilobytes.
const MaxSize = 1 << 20

// Read reads one of the bundle's files. what names its role ("client
// key") for the error, and configKey the config setting that points to it
// (empty when no setting does).
func Read(path, what, configKey string) ([]byte, error) {
	fix := "name the file itself"
	if configKey != "" {
		fix = "set " + configKey + " in the config to the file itself"
	}
	data, err := ReadBounded(path)
	var nr *notRegularError
	switch {
	case errors.As(err, &nr) && nr.mode.IsDir():
		return nil, Problem(ErrWrongPEMType, "%s %s is a directory, not a file: %s", what, path, fix)
	case errors.As(err, &nr):
		return nil, Problem(ErrNotPEM, "%s %s is %s, not a regular file: copy the real file there or %s", what, path, nr.kind(), fix)
	case errors.Is(err, ErrTooLarge):
		return nil, Problem(ErrNotPEM, "%s %s is more than %d bytes, far too large for a certificate or key: %s", what, path, MaxSize, fix)
	case err != nil:
		return nil, ReadError(path, what, configKey, err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, Problem(ErrNotPEM, "%s %s is empty: copy the real file there", what, path)
	}
	return data, nil
}

// ErrTooLarge is returned by ReadBounded for a file above MaxSize.
var ErrTooLarge = fmt.Errorf("larger than %d bytes", MaxSize)

// notRegularError is a path that names a pipe, device, socket or directory.
type notRegularError struct{ mode fs.FileMode }

// NotRegular returns the kind of file (a named pipe, a directory, …) when
// err says that ReadBounded refused a file that is not a regular one.
func NotRegular(err error) (kind string, isDir, ok bool) {
	var nr *notRegularError
	if !errors.As(err, &nr) {
		return "", false, false
	}
	return nr.kind(), nr.mode.IsDir(), true
}

func (e *notRegularError) Error() string { return "not a regular file but " + e.kind() }

func (e *notRegularError) kind() string {
	switch t := e.mode.Type(); {
	case t&fs.ModeDir != 0:
		return "a directory"
	case t&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case t&fs.ModeCharDevice != 0:
		return "a character device"
	case t&fs.ModeDevice != 0:
		return "a block device"
	case t&fs.ModeSocket != 0:
		return "a socket"
	}
	return "a special file"
}

// ReadBounded reads a regular file of at most MaxSize bytes. It opens
// without blocking and checks the opened file, so a FIFO or /dev/zero put
// where a certificate belongs neither hangs nor fills the memory.
func ReadBounded(path string) ([]byte, error) {
	f, err := openNonBlocking(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, &notRegularError{mode: st.Mode()}
	}
	if st.Size() > MaxSize {
		return nil, ErrTooLarge
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxSize {
		return nil, ErrTooLarge // grew while being read
	}
	return data, nil
}

// ReadError turns an os error into one line that says what to do.
func ReadError(path, what, configKey string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist) && configKey == "":
		return &problem{msg: fmt.Sprintf("%s %s does not exist", what, path), causes: []error{err}}
	case errors.Is(err, fs.ErrNotExist):
		return &problem{
			msg:    fmt.Sprintf("%s %s does not exist: copy it there or set %s in the config", what, path, configKey),
			causes: []error{err},
		}
	case errors.Is(err, fs.ErrPermission):
		who := CurrentUser()
		return &problem{
			msg: fmt.Sprintf("cannot read %s %s as user %s: permission denied; let that user read it, e.g. `chown %s %s` (and make sure the folders above it can be entered)",
				what, path, who.Display, who.Name, path),
			causes: []error{err},
		}
	}
	return &problem{msg: fmt.Sprintf("cannot read %s %s: %v", what, path, err), causes: []error{err}}
}

type User struct {
	Name    string // for commands: the user name, or the numeric uid
	Display string // for messages: "edgepub (uid 998)"
}

// CurrentUser names the user the daemon runs as; with DynamicUser= or in a
// container the uid may have no name, so the number always comes along.
func CurrentUser() User {
	uid := strconv.Itoa(os.Getuid())
	u, err := user.Current()
	if err != nil || u.Username == "" {
		return User{Name: uid, Display: "uid " + uid}
	}
	return User{Name: u.Username, Display: fmt.Sprintf("%s (uid %s)", u.Username, uid)}
}

// UserName returns the name of the user with the given uid, or the number.
func UserName(uid uint32) string {
	id := strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(id); err == nil && u.Username != "" {
		return u.Username
	}
	return id
}

// GroupName returns the name of the group with the given gid, or the number.
func GroupName(gid uint32) string {
	id := strconv.FormatUint(uint64(gid), 10)
	if g, err := user.LookupGroupId(id); err == nil && g.Name != "" {
		return g.Name
	}
	return id
}

// CAKeyName is what the tutorial calls the CA's private key.
const CAKeyName = "ca.key"
