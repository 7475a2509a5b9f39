//go:build linux

package certs_test

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/edgepub/edgepub/certs"
	"github.com/edgepub/edgepub/certs/pki"
	"github.com/edgepub/edgepub/internal/testutil"
)

const unreadableDirEnv = "EDGEPUB_CERTS_TEST_UNREADABLE_DIR"

// TestLoadUnreadableKey checks the message for a key the daemon's user may
// not read. Root reads everything, so as root the check runs in a copy of
// this test binary started as the user nobody.
func TestLoadUnreadableKey(t *testing.T) {
	t.Parallel()
	ca := newCA(t, "MQTT-CA", pki.KeyECDSAP256)
	certPEM, keyPEM := issueClient(t, ca, "Kai")
	if os.Getuid() != 0 {
		dir := deviceDir(t, ca.CertPEM(), "Kai", certPEM, keyPEM)
		if err := os.Chmod(filepath.Join(dir, "Kai.key"), 0o000); err != nil {
			t.Fatal(err)
		}
		checkUnreadable(t, dir)
		return
	}

	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Fatalf("need the user nobody to test an unreadable key as root: %v", err)
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)
	base, err := os.MkdirTemp("", "edgepub-certs-unreadable-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(base, "certs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "ca.crt"), ca.CertPEM(), 0o644)
	writeFile(t, filepath.Join(dir, "Kai.crt"), certPEM, 0o644)
	writeFile(t, filepath.Join(dir, "Kai.key"), keyPEM, 0o600) // owned by root

	self, err := os.ReadFile("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(base, "certs.test")
	writeFile(t, bin, self, 0o755)
	// A parallel test's fork can hold the copy open for writing until its
	// child execs, and exec then fails with ETXTBSY (golang/go#22315).
	var out []byte
	testutil.Eventually(t, 30*time.Second, "the copied test binary can be run", func() bool {
		cmd := exec.Command(bin, "-test.run=^TestUnreadableChild$", "-test.v", "-test.count=1")
		cmd.Dir = base
		cmd.Env = append(os.Environ(), unreadableDirEnv+"="+dir)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
		out, err = cmd.CombinedOutput()
		return !errors.Is(err, syscall.ETXTBSY)
	})
	if err != nil {
		t.Fatalf("check as user nobody failed: %v\n%s", err, out)
	}
	t.Logf("as nobody:\n%s", out)
}

// TestUnreadableChild is run by TestLoadUnreadableKey in a child process.
func TestUnreadableChild(t *testing.T) {
	dir := os.Getenv(unreadableDirEnv)
	if dir == "" {
		t.Skip("runs only as a child of TestLoadUnreadableKey")
	}
	checkUnreadable(t, dir)
}

func checkUnreadable(t *testing.T, dir string) {
	t.Helper()
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "Kai.key")
	_, err = certs.Load(dir, certs.Names{}, t0)
	t.Log(err)
	testutil.WantOneLineError(t, err, "cannot read client key "+keyFile, "as user "+u.Username+" (uid "+u.Uid+")", "permission denied", "chown "+u.Username+" "+keyFile)
	if !errors.Is(err, fs.ErrPermission) {
		t.Errorf("%v is not fs.ErrPermission", err)
	}
}
