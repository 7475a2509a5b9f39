package outbox

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// holdLockEnv makes the test binary, started by TestDirInUse, hold the
// outbox lock like a second edgepub process would.
const holdLockEnv = "EDGEPUB_OUTBOX_TEST_HOLD_LOCK"

func TestMain(m *testing.M) {
	if dir := os.Getenv(holdLockEnv); dir != "" {
		if _, err := lockDir(dir); err != nil {
			os.Stdout.WriteString("error " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Stdout.WriteString("locked\n")
		bufio.NewReader(os.Stdin).ReadString('\n') // hold until the test closes stdin
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestDirInUseByAnotherProcess(t *testing.T) {
	e := newEnv(t)
	if err := os.MkdirAll(e.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), holdLockEnv+"="+e.dir)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close()
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if line != "locked\n" {
		t.Fatalf("helper process: %q", line)
	}

	o := e.open(nil)
	st := o.Stats()
	if st.DiskErr == nil || !strings.Contains(st.DiskErr.Error(), "another process") {
		t.Fatalf("DiskErr = %v, want the dir reported in use", st.DiskErr)
	}
	if files := segmentFiles(t, e.dir); len(files) != 0 {
		t.Fatalf("wrote %v into a dir another process holds", files)
	}
	e.appendN(o, 2)
	wantSeqs(t, pendingSeqs(t, o), nil) // the other process may number readings the same
}
