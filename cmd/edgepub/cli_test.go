package main

import (
	"bytes"
	"errors"
	"flag"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files of TestCLI")

// cliCase runs the binary with args in testdata/cli; its stdout, stderr and
// exit status are compared with testdata/cli/<name>.golden.
type cliCase struct {
	name   string
	args   []string
	nodemo bool // the packaged build: -tags nodemo
}

var cliCases = []cliCase{
	// CLI conventions.
	{name: "no-args"},
	{name: "help", args: []string{"help"}},
	{name: "help-packaged", args: []string{"help"}, nodemo: true},
	{name: "unknown-command", args: []string{"publish"}},
	{name: "unknown-flag-at-top", args: []string{"--broker", "x"}},
	{name: "group-without-command", args: []string{"certs"}},
	{name: "group-unknown-command", args: []string{"sensors", "list"}},
	{name: "group-help", args: []string{"certs", "-h"}},
	{name: "help-group", args: []string{"help", "config"}},
	{name: "help-leaf", args: []string{"help", "certs", "init"}},
	{name: "run-help", args: []string{"run", "-h"}},
	{name: "version-help", args: []string{"version", "-h"}},
	{name: "check-positional-config", args: []string{"check", "cfg.yaml"}},
	{name: "run-unknown-flag", args: []string{"run", "--frobnicate"}},
	{name: "run-bad-flag-value", args: []string{"check", "--timeout", "soon"}},
	{name: "certs-init-without-host", args: []string{"certs", "init", "pki", "--client", "Kai"}},
	{name: "certs-init-without-dir", args: []string{"certs", "init", "--host", "127.0.0.1", "--client", "Kai"}},
	{name: "certs-inspect-two-dirs", args: []string{"certs", "inspect", "a", "b"}},
	{name: "cert-without-key", args: []string{"check", "--config", "good.yaml", "--cert", "Kai.crt"}},
	{name: "demo-packaged", args: []string{"demo"}, nodemo: true},
	{name: "setup-without-cert-dir", args: []string{"setup"}},
	{name: "sensors-read-nothing", args: []string{"sensors", "read", "--config", "good.yaml"}},
	// Config errors.
	{name: "config-check-ok", args: []string{"config", "check", "--config", "good.yaml"}},
	{name: "config-check-typo", args: []string{"config", "check", "--config", "typo.yaml"}},
	{name: "config-check-many", args: []string{"config", "check", "--config", "many-mistakes.yaml"}},
	{name: "config-check-syntax", args: []string{"config", "check", "--config", "syntax.yaml"}},
	{name: "config-check-missing", args: []string{"config", "check", "--config", "nope.yaml"}},
	{name: "run-typo", args: []string{"run", "--config", "typo.yaml"}},
	{name: "config-example", args: []string{"config", "example"}},
	// check.
	{name: "check-config-typo", args: []string{"check", "--config", "typo.yaml"}},
	{name: "check-config-syntax", args: []string{"check", "--config", "syntax.yaml"}},
	{name: "check-config-missing", args: []string{"check", "--config", "nope.yaml"}},
	{name: "check-bad-broker-flag", args: []string{"check", "--config", "good.yaml", "--broker", "tcp://127.0.0.1:1883"}},
	{name: "check-no-cert-dir", args: []string{"check", "--config", "good.yaml", "--cert-dir", "no-such-folder", "--no-sensors"}},
	{name: "check-sensor-warns", args: []string{"check", "--config", "optional.yaml", "--cert-dir", "no-such-folder"}},
	{name: "check-json", args: []string{"check", "--config", "optional.yaml", "--cert-dir", "no-such-folder", "--json"}},
	{name: "check-required-sensor-fails", args: []string{"check", "--config", "required.yaml", "--cert-dir", "no-such-folder"}},
}

func TestCLI(t *testing.T) {
	testdata, err := filepath.Abs("testdata/cli")
	if err != nil {
		t.Fatal(err)
	}
	// edgepubBinary is built as the packages ship it (-tags nodemo).
	bins := map[bool]string{false: buildBinary(t, ""), true: edgepubBinary(t)}
	for _, c := range cliCases {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(bins[c.nodemo], c.args...)
			cmd.Dir = testdata
			cmd.Env = append(os.Environ(), "NO_COLOR=1")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			status := 0
			if err := cmd.Run(); err != nil {
				var exit *exec.ExitError
				if !errors.As(err, &exit) {
					t.Fatal(err)
				}
				status = exit.ExitCode()
			}
			got := "$ edgepub " + strings.Join(c.args, " ") + "\nexit status " + strconv.Itoa(status) +
				"\n--- stdout\n" + stdout.String() + "--- stderr\n" + stderr.String()
			got = strings.ReplaceAll(got, testdata, "$TESTDATA")
			golden := filepath.Join(testdata, c.name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestCLI -update to write it)", err)
			}
			if got != string(want) {
				t.Errorf("output differs from %s (go test -run TestCLI -update rewrites it):\n--- got\n%s\n--- want\n%s", golden, got, want)
			}
		})
	}
}

// buildBinary builds edgepub with build tags (none: as `go run` does) into
// the test's temp dir.
func buildBinary(t *testing.T, tags string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "edgepub")
	if out, err := exec.Command("go", "build", "-tags", tags, "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build -tags %s: %v\n%s", tags, err, out)
	}
	return bin
}

func TestVersionFlag(t *testing.T) {
	for _, arg := range []string{"--version", "-V"} {
		out, _, err := runCmd(t, arg)
		if err != nil || !strings.Contains(out, "go1.") {
			t.Errorf("%s: %v %q", arg, err, out)
		}
	}
}

// Ctrl-C during check exits 130 and reports nothing about the step it cut
// short: a broker that accepts TCP but never answers TLS holds the check in
// its handshake until the signal.
func TestCheckInterruptedExits130(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	dir := filepath.Join(t.TempDir(), "pki")
	if _, _, err := runCmd(t, "certs", "init", dir, "--host", "127.0.0.1", "--client", "Kai"); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "server.crt"))
	os.Remove(filepath.Join(dir, "server.key"))
	cmd := exec.Command(edgepubBinary(t), "check", "--config", writeConfig(t, ""), "--broker", "ssl://"+ln.Addr().String(),
		"--cert-dir", dir, "--no-sensors", "--timeout", "1m")
	outFile := filepath.Join(t.TempDir(), "out")
	f, err := os.Create(outFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out := func() string { data, _ := os.ReadFile(outFile); return string(data) }
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out(), "PASS  TCP connect") {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("check did not reach the TLS step:\n%s", out())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(os.Interrupt)
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 130 {
		t.Errorf("exit %v, want status 130", err)
	}
	if strings.Contains(out(), "FAIL") || strings.Contains(out(), "TLS handshake") {
		t.Errorf("Ctrl-C reported the step it cut short:\n%s", out())
	}
}
