package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgepub/edgepub/certs/pki"
	"github.com/edgepub/edgepub/internal/logging"
	"github.com/edgepub/edgepub/internal/mosquittotest"
	"github.com/edgepub/edgepub/internal/testutil"
	"github.com/edgepub/edgepub/internal/tutorialpki"
)

func caCmd(t *testing.T, f func(context.Context, []string, io.Writer, io.Writer) error, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := f(context.Background(), args, &out, &errb)
	return out.String() + errb.String(), err
}

// On the tutorial's CA folder: revoke by name of a hand-made certificate
// fails with the fix, revoke by file works and writes the CRL, check
// reports it, and a CA key readable by others stops every command.
func TestCACommandsOnTheTutorialsFolder(t *testing.T) {
	p := mosquittotest.NewSeedPKI(t, "127.0.0.1", "Kai")
	os.Chmod(p.File("ca.key"), 0o600)

	out, err := caCmd(t, cmdCACheck, "--ca-dir", p.Dir)
	if !errors.Is(err, exitCode(1)) || !strings.Contains(out, "FAIL  crl") || !strings.Contains(out, "edgepub ca crl") {
		t.Errorf("check without a CRL: %v\n%s", err, out)
	}
	if out, err := caCmd(t, cmdCARevoke, "--ca-dir", p.Dir, "--reload-command", "", "Kai"); err == nil || !strings.Contains(err.Error(), "pass its .crt file") {
		t.Errorf("revoking a hand-made certificate by name: %v\n%s", err, out)
	}
	out, err = caCmd(t, cmdCARevoke, "--ca-dir", p.Dir, "--reason", "keyCompromise", "--reload-command", "true", p.File("Kai.crt"))
	if err != nil || !strings.Contains(out, "revoked Kai serial") || !strings.Contains(out, "message_id=7f3a0c9e") {
		t.Fatalf("revoke: %v\n%s", err, out)
	}
	out, err = caCmd(t, cmdCACheck, "--ca-dir", p.Dir)
	if err != nil || !strings.Contains(out, "1 revoked") {
		t.Errorf("check after revoke: %v\n%s", err, out)
	}

	os.Chmod(p.File("ca.key"), 0o644)
	for name, f := range map[string]func(context.Context, []string, io.Writer, io.Writer) error{"crl": cmdCACRL, "check": cmdCACheck} {
		out, err := caCmd(t, f, "--ca-dir", p.Dir)
		if err == nil || !strings.Contains(out+err.Error(), "chmod 600") {
			t.Errorf("%s with a world-readable CA key: %v\n%s", name, err, out)
		}
	}
}

// One `ca revoke` cuts a device off: Mosquitto (tutorial settings plus
// crlfile) refuses Kai after the CRL reload it triggers, Bob keeps
// publishing.
func TestCARevokeCutsOffADevice(t *testing.T) {
	p := mosquittotest.NewSeedPKI(t, "127.0.0.1", "Kai", "Bob")
	os.Chmod(p.File("ca.key"), 0o600)
	if out, err := caCmd(t, cmdCACRL, "--ca-dir", p.Dir); err != nil {
		t.Fatalf("ca crl: %v\n%s", err, out)
	}
	broker := mosquittotest.Start(t, mosquittotest.Opts{PKI: p, Extra: []string{"crlfile " + p.File("crl.pem")}})
	pub := func(name string) error {
		out, err := exec.Command("mosquitto_pub", "-h", "127.0.0.1", "-p", strconv.Itoa(broker.Port()), "--cafile", p.File("ca.crt"),
			"--cert", p.File(name+".crt"), "--key", p.File(name+".key"), "-q", "1", "-t", name+"/probe", "-m", "x").CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	}
	if err := pub("Kai"); err != nil {
		t.Fatalf("Kai before revocation: %v", err)
	}
	out, err := caCmd(t, cmdCARevoke, "--ca-dir", p.Dir, "--reload-command", strings.Join(broker.ReloadCommand(), " "), p.File("Kai.crt"))
	if err != nil {
		t.Fatalf("ca revoke: %v\n%s", err, out)
	}
	deadline := time.Now().Add(20 * time.Second)
	for pub("Kai") == nil {
		if time.Now().After(deadline) {
			t.Fatalf("Mosquitto still accepts Kai 20s after ca revoke:\n%s", broker.Log())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := pub("Bob"); err != nil {
		t.Errorf("Bob after Kai's revocation: %v", err)
	}
}

// ca serve as an operator starts it on a certs init folder: it finds ca.crt
// beside the …-ca-private folder, connects with its own certificate and
// says it is ready.
func TestCAServeOnACertsInitFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	if _, err := pki.InitPKI(pki.InitOpts{Dir: dir, Host: "127.0.0.1", Clients: []string{"signer", "Kai"}}); err != nil {
		t.Fatal(err)
	}
	signerDir := t.TempDir()
	for _, f := range []string{"ca.crt", "signer.crt", "signer.key"} {
		tutorialpki.CopyFile(t, filepath.Join(dir, f), filepath.Join(signerDir, f), 0o600)
	}
	broker := mosquittotest.Start(t, mosquittotest.Opts{PKI: &tutorialpki.PKI{Dir: dir}, ACL: mosquittotest.SignerACL})
	var out testutil.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- cmdCAServe(ctx, []string{"--ca-dir", dir + "-ca-private", "--broker", broker.URL(), "--cert-dir", signerDir, "--reload-command", ""}, &out, &out)
	}()
	testutil.Eventually(t, 20*time.Second, "ca serve ready", func() bool { return strings.Contains(out.String(), logging.MsgSignerReady) })
	cancel()
	if err := <-done; err != nil {
		t.Errorf("ca serve: %v\n%s", err, out.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "crl.pem")); err != nil {
		t.Errorf("no CRL beside ca.crt: %v", err)
	}
}
