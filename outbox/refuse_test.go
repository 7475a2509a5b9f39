package outbox

import (
	"errors"
	"math"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A segment named near 2^64 (not written by edgepub) must not make seq
// wrap: Open refuses the dir and leaves its files alone.
func TestOpenRefusesSegmentNamesThatWouldWrapSeq(t *testing.T) {
	for _, base := range []uint64{math.MaxUint64, math.MaxUint64 - 3, seqLimit + 1} {
		e := newEnv(t)
		o := e.open(nil)
		e.appendN(o, 3)
		o.Close()
		name := filepath.Join(e.dir, segmentName(base))
		if err := os.WriteFile(name, appendSegmentHeader(nil, base), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Open(e.dir, e.opts())
		if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "wrap") || !strings.Contains(err.Error(), e.dir) {
			t.Fatalf("base %d: Open = %v, want the dir refused because seq would wrap", base, err)
		}
		// The readings are still there for whoever moves the dir away.
		if err := os.Remove(name); err != nil {
			t.Fatal(err)
		}
		o = e.open(nil)
		wantSeqs(t, pendingSeqs(t, o), seqRange(1, 3))
	}
}

func TestAppendStopsAtSeqLimit(t *testing.T) {
	e := newEnv(t)
	o := e.open(nil)
	o.seq.resume(seqLimit, leaseState{}, 0, false)
	if _, err := o.Append(time.Now(), encodeSeq); err == nil || !strings.Contains(err.Error(), "end of its range") {
		t.Fatalf("Append at the seq limit = %v, want an error", err)
	}
}

// The lock, the lease and the segments are never opened through a link.
func TestOpenDoesNotFollowSymlinks(t *testing.T) {
	for _, name := range []string{lockName, leaseName} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			if err := os.MkdirAll(e.dir, 0o700); err != nil {
				t.Fatal(err)
			}
			victim := filepath.Join(t.TempDir(), "victim")
			if err := os.WriteFile(victim, []byte("precious"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(victim, filepath.Join(e.dir, name)); err != nil {
				t.Fatal(err)
			}
			o := e.open(nil)
			st := o.Stats()
			if st.DiskErr == nil || !strings.Contains(st.DiskErr.Error(), "symbolic link") || !strings.Contains(st.DiskErr.Error(), name) {
				t.Errorf("DiskErr = %v, want the link named", st.DiskErr)
			}
			e.appendN(o, 2)
			o.Close()
			if data, _ := os.ReadFile(victim); string(data) != "precious" {
				t.Errorf("the link's target was written: %q", data)
			}
		})
	}
	t.Run("segment", func(t *testing.T) {
		e := newEnv(t)
		o := e.open(nil)
		e.appendN(o, 2)
		o.Close()
		victim := filepath.Join(t.TempDir(), "victim")
		if err := os.WriteFile(victim, []byte("precious"), 0o600); err != nil {
			t.Fatal(err)
		}
		seg := filepath.Join(e.dir, segmentName(1))
		if err := os.Rename(seg, seg+".moved"); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(victim, seg); err != nil {
			t.Fatal(err)
		}
		s := &segment{base: 1, path: seg}
		if err := s.openFile(); !errors.Is(err, errSymlink) {
			t.Errorf("openFile through a link = %v, want errSymlink", err)
		}
		if _, _, err := scanSegment(s, 0, 0, nil); !errors.Is(err, errSymlink) {
			t.Errorf("scanSegment through a link = %v, want errSymlink", err)
		}
	})
}

// As root, a state dir another user owns or may write is refused, with the
// command that fixes it.
func TestOpenAsRootRefusesForeignStateDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the check applies only when edgepub runs as root")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Fatalf("need the user nobody: %v", err)
	}
	uid, _ := strconv.Atoi(nobody.Uid)

	e := newEnv(t)
	if err := os.MkdirAll(e.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(e.dir, uid, 0); err != nil {
		t.Fatal(err)
	}
	_, err = Open(e.dir, e.opts())
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "chown root:root "+e.dir) {
		t.Fatalf("Open of a dir owned by nobody = %v, want it refused with the chown fix", err)
	}

	if err := os.Chown(e.dir, 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(e.dir, 0o777); err != nil {
		t.Fatal(err)
	}
	_, err = Open(e.dir, e.opts())
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "chmod go-w "+e.dir) {
		t.Fatalf("Open of a world-writable dir = %v, want it refused with the chmod fix", err)
	}

	if err := os.Chmod(e.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	e.appendN(e.open(nil), 1)
}

// Readings sent from memory while the disk was full are numbered below a
// ceiling the lease holds, so after a crash the next seq is above them all:
// the in-memory fallback never makes seq repeat.
func TestCrashWhileDiskFullNeverReusesSeq(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a 256 KiB tmpfs that can fill up; CI runs as root")
	}
	e := newEnv(t)
	e.dir = mountTmpfs(t, "size=256k")
	o := e.open(nil)
	filler := filepath.Join(e.dir, "filler")
	fillUp(t, filler)
	for i := 0; o.Stats().DiskErr == nil; i++ {
		if i > 100 {
			t.Fatal("appending to a full disk never failed")
		}
		e.appendN(o, 1)
	}
	e.appendN(o, 50)
	sent := pendingSeqs(t, o)
	last := o.Stats().LastSeq
	if len(sent) == 0 || sent[len(sent)-1] != last {
		t.Fatalf("pending %v, want every reading up to %d sendable while the lease works", sent, last)
	}
	for _, seq := range sent {
		o.Ack(seq) // delivered: a repeat of any of these seqs would be a duplicate id
	}
	crash(o)
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	o = e.open(nil)
	if next := e.appendN(o, 1)[0]; next <= last {
		t.Fatalf("after the crash seq went on at %d, at or below %d already sent", next, last)
	}
}
