package outbox

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// The lease file holds what must survive a power cut besides the records:
// the seq ceiling (every seq ever handed out is below it), the boot id it was
// written under, whether the segments alone tell the last seq, and the seq
// through which everything was acknowledged at the last Close.
//
// It has two fixed slots in separate 512-byte sectors, written alternately in
// place and fdatasynced: a torn write damages at most the slot being written,
// and overwriting allocated blocks needs no free space, so the lease can
// still be updated on a full disk.
const (
	leaseName     = "lease"
	leaseTmpName  = "lease.tmp"
	leaseSlotSize = 512
	leaseSlots    = 2
	leaseMagic    = "EPLS"
	leaseVersion  = 1
	leaseBodySize = 96
	maxBootIDLen  = 64
)

// leaseState is the content of one lease slot.
type leaseState struct {
	bootID       string
	ceiling      uint64
	ackedThrough uint64
	exactResume  bool
}

// leaseFile is the open lease; seqLease serialises its writes.
type leaseFile struct {
	f   *os.File
	gen uint64
}

func encodeLeaseSlot(s leaseState, gen uint64) []byte {
	b := make([]byte, leaseBodySize+4)
	copy(b, leaseMagic)
	b[4] = leaseVersion
	if s.exactResume {
		b[5] = 1
	}
	id := s.bootID
	if len(id) > maxBootIDLen {
		id = id[:maxBootIDLen]
	}
	binary.LittleEndian.PutUint16(b[6:], uint16(len(id)))
	binary.LittleEndian.PutUint64(b[8:], gen)
	binary.LittleEndian.PutUint64(b[16:], s.ceiling)
	binary.LittleEndian.PutUint64(b[24:], s.ackedThrough)
	copy(b[32:], id)
	binary.LittleEndian.PutUint32(b[leaseBodySize:], crc32.Checksum(b[:leaseBodySize], castagnoli))
	return b
}

func decodeLeaseSlot(b []byte) (leaseState, uint64, bool) {
	if len(b) < leaseBodySize+4 || !bytes.Equal(b[:4], []byte(leaseMagic)) || b[4] != leaseVersion {
		return leaseState{}, 0, false
	}
	if crc32.Checksum(b[:leaseBodySize], castagnoli) != binary.LittleEndian.Uint32(b[leaseBodySize:]) {
		return leaseState{}, 0, false
	}
	n := int(binary.LittleEndian.Uint16(b[6:]))
	if n > maxBootIDLen {
		return leaseState{}, 0, false
	}
	return leaseState{
		exactResume:  b[5]&1 != 0,
		ceiling:      binary.LittleEndian.Uint64(b[16:]),
		ackedThrough: binary.LittleEndian.Uint64(b[24:]),
		bootID:       string(b[32 : 32+n]),
	}, binary.LittleEndian.Uint64(b[8:]), true
}

// readLease returns the newest intact slot. found is false when there is no
// lease file; damaged is true when the file exists but no slot is intact.
func readLease(dir string) (s leaseState, gen uint64, found, damaged bool, err error) {
	b, err := readNoFollow(filepath.Join(dir, leaseName), leaseSlotSize*leaseSlots)
	if errors.Is(err, fs.ErrNotExist) {
		return leaseState{}, 0, false, false, nil
	}
	if err != nil {
		return leaseState{}, 0, false, false, fmt.Errorf("read outbox lease: %w", err)
	}
	for i := range leaseSlots {
		off := i * leaseSlotSize
		if off >= len(b) {
			break
		}
		if st, g, ok := decodeLeaseSlot(b[off:]); ok && (!found || g > gen) {
			s, gen, found = st, g, true
		}
	}
	return s, gen, found, !found, nil
}

// openLeaseFile opens the lease for in-place updates, creating it atomically
// (temp file, fsync, rename, fsync dir) when it is missing or has no intact
// slot, so a crash never leaves a lease that hides the ceiling.
func openLeaseFile(dir string, s leaseState, gen uint64, intact bool) (*leaseFile, error) {
	path := filepath.Join(dir, leaseName)
	if intact {
		f, err := openNoFollow(path, os.O_RDWR, 0)
		if err == nil {
			lf := &leaseFile{f: f, gen: gen}
			if err := lf.write(s); err != nil {
				f.Close()
				return nil, err
			}
			return lf, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("open outbox lease: %w", err)
		}
	}
	tmp := filepath.Join(dir, leaseTmpName)
	buf := make([]byte, leaseSlotSize*leaseSlots)
	copy(buf, encodeLeaseSlot(s, gen+1))
	if err := writeFileSynced(tmp, buf); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("install outbox lease: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return nil, err
	}
	f, err := openNoFollow(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open outbox lease: %w", err)
	}
	return &leaseFile{f: f, gen: gen + 1}, nil
}

// write stores s in the older slot and waits until it is on stable storage.
func (lf *leaseFile) write(s leaseState) error {
	gen := lf.gen + 1
	off := int64(gen%leaseSlots) * leaseSlotSize
	if _, err := lf.f.WriteAt(encodeLeaseSlot(s, gen), off); err != nil {
		return fmt.Errorf("write outbox lease: %w", err)
	}
	if err := fdatasync(lf.f); err != nil {
		return fmt.Errorf("sync outbox lease: %w", err)
	}
	lf.gen = gen
	return nil
}

func (lf *leaseFile) close() error { return lf.f.Close() }

func writeFileSynced(path string, data []byte) error {
	f, err := openNoFollow(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", filepath.Base(path), err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", filepath.Base(path), err)
	}
	return f.Close()
}

// syncDir makes created and renamed names in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open outbox dir for sync: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync outbox dir: %w", err)
	}
	return nil
}

func fdatasync(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		for {
			serr = syscall.Fdatasync(int(fd))
			if serr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	return serr
}
