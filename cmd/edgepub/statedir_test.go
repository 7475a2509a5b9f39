package main

import (
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// Run by hand as an ordinary user with no state dir configured, edgepub
// keeps its state under ~/.local/state/edgepub (or $XDG_STATE_HOME) and says
// so, instead of failing on /var/lib/edgepub. As root the test runs the
// binary as the user nobody. It stops at the missing certificates, before
// anything is dialled.
func TestRunByHandUsesTheUserStateDir(t *testing.T) {
	bin := edgepubBinary(t)
	home := t.TempDir()
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		nobody, err := user.Lookup("nobody")
		if err != nil {
			t.Fatalf("need the user nobody: %v", err)
		}
		uid, _ := strconv.Atoi(nobody.Uid)
		gid, _ := strconv.Atoi(nobody.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		// nobody must reach the binary, the config and its home.
		pub := filepath.Join(os.TempDir(), "edgepub-statedir-"+strconv.Itoa(os.Getpid()))
		if err := os.MkdirAll(pub, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(pub) })
		data, err := os.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		bin = filepath.Join(pub, "edgepub")
		if err := os.WriteFile(bin, data, 0o755); err != nil {
			t.Fatal(err)
		}
		home = filepath.Join(pub, "home")
		if err := os.Mkdir(home, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(home, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	cfg := filepath.Join(filepath.Dir(bin), "empty.yaml")
	if err := os.WriteFile(cfg, []byte("broker:\n  urls: [ssl://127.0.0.1:1]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ xdg, want string }{
		{"", filepath.Join(home, ".local", "state", "edgepub")},
		{filepath.Join(home, "xdg"), filepath.Join(home, "xdg", "edgepub")},
	} {
		cmd := exec.Command(bin, "run", "--config", cfg, "--cert-dir", filepath.Join(home, "no-certs"))
		cmd.Env = []string{"HOME=" + home, "PATH=/usr/bin:/bin"}
		if tc.xdg != "" {
			cmd.Env = append(cmd.Env, "XDG_STATE_HOME="+tc.xdg)
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "no-certs") {
			t.Fatalf("run: %v, want it to stop at the missing certificates:\n%s", err, out)
		}
		if !strings.Contains(string(out), "not running as root: using "+tc.want) {
			t.Errorf("XDG_STATE_HOME=%q: the log does not name %s:\n%s", tc.xdg, tc.want, out)
		}
	}
}
