package outbox

import (
	"bytes"
	"log/slog"
	"sort"

	"github.com/edgepub/edgepub/internal/logging"
)

// memFallback holds readings while the disk fails, in seq order, up to a
// limit beyond which the oldest are dropped. Every seq in it is above every
// seq in the segment log, so the two together are the queue in seq order;
// the Outbox's mu guards both.
type memFallback struct {
	dir    string
	limit  int
	logger *slog.Logger

	recs []memRecord
	// pending counts the records neither acked nor dropped.
	pending int
	// dropped counts readings dropped beyond the limit.
	dropped  uint64
	overflow episode
}

type memRecord struct {
	seq      uint64
	unixNano int64
	payload  []byte
	state    recordState
}

// holds tells whether seq belongs to memory rather than to the log.
func (m *memFallback) holds(seq uint64) bool { return len(m.recs) > 0 && seq >= m.recs[0].seq }

// append keeps a reading, dropping the oldest beyond the limit.
func (m *memFallback) append(seq uint64, unixNano int64, payload []byte) {
	m.recs = append(m.recs, memRecord{seq: seq, unixNano: unixNano, payload: bytes.Clone(payload)})
	m.pending++
	for i := 0; m.pending > m.limit && i < len(m.recs); i++ {
		if m.recs[i].state != statePending {
			continue
		}
		if !m.overflow.active {
			m.overflow.active = true
			m.logger.Warn("outbox memory is full while the disk fails: dropping the oldest readings",
				logging.MessageID(logging.MsgReadingsDropped), slog.String("dir", m.dir),
				slog.Int("memory_limit", m.limit))
		}
		m.settle(i, stateDropped)
		m.dropped++
		m.overflow.dropped++
	}
	m.trim()
}

// read appends the pending records above after to out, up to limit in all.
func (m *memFallback) read(after uint64, limit int, releasable func(seq uint64) bool, out []Record) []Record {
	for i := range m.recs {
		if len(out) >= limit {
			break
		}
		r := &m.recs[i]
		if !releasable(r.seq) {
			break
		}
		if r.seq > after && r.state == statePending {
			out = append(out, Record{Seq: r.seq, Time: nanosToTime(r.unixNano), Payload: bytes.Clone(r.payload)})
		}
	}
	return out
}

// ack ends seq's life as acknowledged; unknown and settled seqs are ignored.
func (m *memFallback) ack(seq uint64) {
	i := sort.Search(len(m.recs), func(i int) bool { return m.recs[i].seq >= seq })
	if i < len(m.recs) && m.recs[i].seq == seq && m.settle(i, stateAcked) {
		m.trim()
	}
}

// dropOlder drops pending records taken before cutoff (Unix nanoseconds),
// oldest first, and returns how many.
func (m *memFallback) dropOlder(cutoff int64) uint64 {
	var n uint64
	for i := range m.recs {
		if m.recs[i].state != statePending {
			continue
		}
		if m.recs[i].unixNano >= cutoff {
			break
		}
		m.settle(i, stateDropped)
		n++
	}
	m.trim()
	return n
}

// settle ends a pending record's life as acked or dropped.
func (m *memFallback) settle(i int, state recordState) bool {
	if m.recs[i].state != statePending {
		return false
	}
	m.recs[i].state = state
	m.recs[i].payload = nil
	m.pending--
	return true
}

// trim forgets settled records at the front.
func (m *memFallback) trim() {
	i := 0
	for i < len(m.recs) && m.recs[i].state != statePending {
		m.recs[i].payload = nil
		i++
	}
	if i == len(m.recs) {
		m.recs = m.recs[:0]
		return
	}
	m.recs = m.recs[i:]
}

// firstPending returns the index of the oldest pending record, or -1.
func (m *memFallback) firstPending() int {
	for i, r := range m.recs {
		if r.state == statePending {
			return i
		}
	}
	return -1
}

// clear forgets every record, once they are on disk.
func (m *memFallback) clear() { m.recs, m.pending = nil, 0 }
