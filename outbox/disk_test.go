package outbox

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/edgepub/edgepub/internal/logging"
)

// notCreatableDir returns a path below a regular file: no user, root
// included, can create it.
func notCreatableDir(t *testing.T) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(file, "outbox")
}

func TestUncreatableDirKeepsReadingsInMemory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.dir = notCreatableDir(t)
		o := e.open(nil)
		st := o.Stats()
		if st.DiskErr == nil || !strings.Contains(st.DiskErr.Error(), e.dir) {
			t.Fatalf("DiskErr = %v, want an error naming %s", st.DiskErr, e.dir)
		}
		e.appendN(o, 5)
		o.Ack(2)
		// No lease on disk says the next start resumes above these seqs,
		// so none may leave yet: a restart could number others the same.
		wantSeqs(t, pendingSeqs(t, o), nil)
		if st := o.Stats(); st.InMemory != 4 || st.Backlog != 4 {
			t.Fatalf("Stats = %+v", st)
		}
		if c := e.logs.count(logging.MsgDiskError); c != 1 {
			t.Fatalf("disk error logged %d times, want once", c)
		}

		// Fix the path: the next retry moves the readings to disk.
		parent := filepath.Dir(e.dir)
		if err := os.Remove(parent); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(parent, 0o700); err != nil {
			t.Fatal(err)
		}
		o.tick() // too early for a retry
		if o.Stats().DiskErr == nil {
			t.Fatal("retried the disk before retryEvery")
		}
		time.Sleep(retryEvery)
		o.tick()
		st = o.Stats()
		if st.DiskErr != nil || st.InMemory != 0 || st.Backlog != 4 || st.Bytes == 0 {
			t.Fatalf("after the fix Stats = %+v", st)
		}
		wantSeqs(t, e.appendN(o, 1), []uint64{6})
		crash(o)
		o = e.open(nil)
		wantSeqs(t, pendingSeqs(t, o), []uint64{1, 3, 4, 5, 6})
		wantSeqs(t, e.appendN(o, 1), []uint64{7})
	})
}

func TestReadOnlyDirServesBacklog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		if os.Geteuid() == 0 {
			// Root ignores permission bits; a read-only mount stops it.
			e.dir = mountTmpfs(t, "size=1m")
		}
		o := e.open(nil)
		e.appendN(o, 10)
		o.Close()
		setReadOnly(t, e.dir, true)

		o = e.open(nil)
		st := o.Stats()
		if st.DiskErr == nil || !strings.Contains(st.DiskErr.Error(), "writable") {
			t.Fatalf("DiskErr = %v, want one that says to make the dir writable", st.DiskErr)
		}
		e.appendN(o, 5)
		// The lease cannot record that seqs 11-15 exist only in memory,
		// so they wait for the disk: a restart would reuse them.
		wantSeqs(t, pendingSeqs(t, o), seqRange(1, 10))
		for _, seq := range seqRange(1, 10) {
			o.Ack(seq)
		}
		wantSeqs(t, pendingSeqs(t, o), nil)

		setReadOnly(t, e.dir, false)
		time.Sleep(retryEvery)
		o.tick()
		if st := o.Stats(); st.DiskErr != nil || st.InMemory != 0 || st.Backlog != 5 {
			t.Fatalf("after the dir became writable Stats = %+v", st)
		}
		o.Close()
		o = e.open(nil)
		wantSeqs(t, pendingSeqs(t, o), seqRange(11, 15))
	})
}

func TestDiskFullKeepsReadingsInMemory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("needs root to mount a 256 KiB tmpfs that can fill up; CI runs as root")
		}
		e := newEnv(t)
		e.dir = mountTmpfs(t, "size=256k")
		o := e.open(nil)
		filler := filepath.Join(e.dir, "filler")
		fillUp(t, filler)
		var onDisk uint64
		for i := 0; o.Stats().DiskErr == nil; i++ {
			if i > 100 {
				t.Fatal("appending to a full disk never failed")
			}
			onDisk = e.appendN(o, 1)[0]
		}
		onDisk-- // the reading that hit ENOSPC went to memory
		st := o.Stats()
		if !errors.Is(st.DiskErr, syscall.ENOSPC) || !strings.Contains(st.DiskErr.Error(), "free space") {
			t.Fatalf("DiskErr = %v, want ENOSPC with a fix", st.DiskErr)
		}
		e.appendN(o, 200)
		last := onDisk + 201
		if st := o.Stats(); st.InMemory != 201 || st.Backlog != int(last) {
			t.Fatalf("while full Stats = %+v", st)
		}
		wantSeqs(t, pendingSeqs(t, o), seqRange(1, last))
		if c := e.logs.count(logging.MsgDiskError); c != 1 {
			t.Fatalf("disk error logged %d times, want once", c)
		}

		if err := os.Remove(filler); err != nil {
			t.Fatal(err)
		}
		time.Sleep(retryEvery)
		o.tick()
		if st := o.Stats(); st.DiskErr != nil || st.InMemory != 0 || st.Backlog != int(last) {
			t.Fatalf("after space came back Stats = %+v", st)
		}
		wantSeqs(t, pendingSeqs(t, o), seqRange(1, last))
		if err := o.Close(); err != nil {
			t.Fatal(err)
		}
		o = e.open(nil)
		wantSeqs(t, pendingSeqs(t, o), seqRange(1, last))
		wantSeqs(t, e.appendN(o, 1), []uint64{last + 1})
	})
}

// mountTmpfs mounts a fresh tmpfs (root only) and returns a dir in it.
func mountTmpfs(t *testing.T, options string) string {
	t.Helper()
	mnt := t.TempDir()
	// mode=0755: a tmpfs root is world-writable by default, which Open
	// refuses as root.
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, options+",mode=0755"); err != nil {
		t.Fatalf("mount tmpfs on %s: %v", mnt, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(mnt, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", mnt, err)
		}
	})
	return filepath.Join(mnt, "outbox")
}

// setReadOnly makes dir unwritable: by remounting its tmpfs when root,
// by permission bits otherwise.
func setReadOnly(t *testing.T, dir string, ro bool) {
	t.Helper()
	if os.Geteuid() != 0 {
		mode := os.FileMode(0o700)
		if ro {
			mode = 0o500
		}
		if err := os.Chmod(dir, mode); err != nil {
			t.Fatal(err)
		}
		return
	}
	flags := uintptr(syscall.MS_REMOUNT)
	if ro {
		flags |= syscall.MS_RDONLY
	}
	if err := syscall.Mount("tmpfs", filepath.Dir(dir), "tmpfs", flags, ""); err != nil {
		t.Fatalf("remount %s: %v", filepath.Dir(dir), err)
	}
}

// fillUp writes path until the filesystem is full.
func fillUp(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return
			}
			t.Fatal(err)
		}
	}
}
