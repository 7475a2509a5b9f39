package certfile

import (
	"bytes"
	"errors"
	"fmt"
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
	st, err := os.Stat(path)
	if err == nil && st.IsDir() {
		return nil, Problem(ErrWrongPEMType, "%s %s is a directory, not a file: %s", what, path, fix)
	}
	if err == nil && st.Size() > MaxSize {
		return nil, Problem(ErrNotPEM, "%s %s is %d bytes, far too large for a certificate or key: %s", what, path, st.Size(), fix)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, ReadError(path, what, configKey, err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, Problem(ErrNotPEM, "%s %s is empty: copy the real file there", what, path)
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
