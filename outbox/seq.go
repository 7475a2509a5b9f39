package outbox

import "sync"

// leaseStep is how far ahead seqs are reserved by one fsynced lease write:
// seq may jump by up to this much after a power cut.
const leaseStep = 10000

// seqLease hands out seqs, only ever below a ceiling that the lease file
// holds durably, so that no seq is handed out twice even across a power
// cut. mu guards the numbers and is held only briefly; fileMu serialises the
// lease writes (an fdatasync each), so Run can move the ceiling on while
// Append keeps taking seqs below the old one. Lock order: the Outbox's mu,
// then fileMu, then mu; fileMu is never taken while holding mu.
type seqLease struct {
	dir string

	mu sync.Mutex
	// next is the seq Append hands out next.
	next uint64
	// ceiling is the durable lease ceiling: seqs below it may be handed out.
	ceiling uint64
	// inexactOnDisk is true when the durable lease says the segments may
	// not hold every seq handed out, so the next start resumes from the
	// ceiling.
	inexactOnDisk bool
	// want is the lease content to make durable; version counts its changes.
	want    leaseState
	version uint64
	// gen and intact describe the lease file as recovery found it.
	gen    uint64
	intact bool

	fileMu  sync.Mutex
	file    *leaseFile // nil until the disk is first attached, and after close
	written uint64     // version of want last made durable
}

func newSeqLease(dir, bootID string) *seqLease {
	return &seqLease{dir: dir, next: 1, want: leaseState{bootID: bootID, exactResume: true}}
}

// peek returns the seq Append hands out next.
func (l *seqLease) peek() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.next
}

// last returns the last seq handed out; 0 before the first.
func (l *seqLease) last() uint64 { return l.peek() - 1 }

// use records that seq, taken with peek, was handed out.
func (l *seqLease) use(seq uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.next = seq + 1
}

// bootID is the boot id the lease is written under.
func (l *seqLease) bootID() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.want.bootID
}

// resume starts handing out seqs at next, as recovery decided from what the
// lease file (with generation gen, intact if found) and the segments hold.
func (l *seqLease) resume(next uint64, found leaseState, gen uint64, intact bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.next = next
	l.want.ceiling = max(found.ceiling, next)
	l.want.ackedThrough = found.ackedThrough
	l.gen, l.intact = gen, intact
	if intact {
		l.ceiling = max(l.ceiling, found.ceiling)
		l.inexactOnDisk = !found.exactResume
	}
}

// releasable reports whether a reading with seq may leave the outbox while
// it exists only in memory: when the durable lease lies above it and says
// that the next start resumes from the ceiling.
func (l *seqLease) releasable(seq uint64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inexactOnDisk && seq < l.ceiling
}

// cover makes the ceiling durable above seq before seq leaves the outbox.
func (l *seqLease) cover(seq uint64) error {
	l.mu.Lock()
	if seq < l.ceiling {
		l.mu.Unlock()
		return nil
	}
	l.want.ceiling = seq + leaseStep
	l.mu.Unlock()
	return l.persist()
}

// reserveAhead makes a full leaseStep of seqs durable and records whether
// the segments alone will tell the last seq (exact): not while readings
// wait in memory.
func (l *seqLease) reserveAhead(exact bool) error {
	l.mu.Lock()
	l.want.ceiling = max(l.want.ceiling, l.next+leaseStep)
	l.want.exactResume = exact
	l.mu.Unlock()
	return l.persist()
}

// setExact records whether the segments alone tell the last seq; it writes
// the lease only when that changes.
func (l *seqLease) setExact(exact bool) error {
	l.mu.Lock()
	if l.want.exactResume == exact {
		l.mu.Unlock()
		return nil
	}
	l.want.exactResume = exact
	l.mu.Unlock()
	return l.persist()
}

// recordAcked records that everything through seq was acknowledged, for
// the next Open; it is written with the next persist.
func (l *seqLease) recordAcked(seq uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.want.ackedThrough = max(l.want.ackedThrough, seq)
}

// extend moves the ceiling on once half the reserve is used, so that
// Append rarely waits for a lease fsync. It does nothing before the lease
// file is open.
func (l *seqLease) extend() error {
	if !l.isOpen() {
		return nil
	}
	l.mu.Lock()
	if l.ceiling >= l.next+leaseStep/2 {
		l.mu.Unlock()
		return nil
	}
	l.want.ceiling = max(l.want.ceiling, l.next+leaseStep)
	l.version++
	want, version := l.want, l.version
	l.mu.Unlock()
	if err := l.write(want, version, false); err != nil {
		return err
	}
	l.raiseCeiling(want.ceiling)
	return nil
}

// persist makes want durable before it returns, creating the lease file if
// it is not open yet.
func (l *seqLease) persist() error {
	l.mu.Lock()
	l.version++
	want, version := l.want, l.version
	l.mu.Unlock()
	if err := l.write(want, version, true); err != nil {
		return err
	}
	l.raiseCeiling(want.ceiling)
	l.mu.Lock()
	l.inexactOnDisk = !want.exactResume
	l.mu.Unlock()
	return nil
}

func (l *seqLease) raiseCeiling(c uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ceiling = max(l.ceiling, c)
}

// write stores want unless a newer version was written already. With
// create it opens (or makes) the lease file first if needed.
func (l *seqLease) write(want leaseState, version uint64, create bool) error {
	l.fileMu.Lock()
	defer l.fileMu.Unlock()
	if l.file == nil {
		if !create {
			return nil
		}
		l.mu.Lock()
		gen, intact := l.gen, l.intact
		l.mu.Unlock()
		lf, err := openLeaseFile(l.dir, want, gen, intact)
		if err != nil {
			return err
		}
		l.file, l.written = lf, version
		return nil
	}
	if version <= l.written {
		return nil
	}
	if err := l.file.write(want); err != nil {
		return err
	}
	l.written = version
	return nil
}

// isOpen tells whether the lease file is open.
func (l *seqLease) isOpen() bool {
	l.fileMu.Lock()
	defer l.fileMu.Unlock()
	return l.file != nil
}

// close closes the lease file; a crash test calls it without a last write.
func (l *seqLease) close() {
	l.fileMu.Lock()
	defer l.fileMu.Unlock()
	if l.file != nil {
		l.file.close()
		l.file = nil
	}
}
