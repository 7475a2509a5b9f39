// Package outbox is edgepub's durable queue of readings between the sensors
// and the broker. It keeps every reading through broker outages, daemon
// crashes and power cuts, numbers readings with a per-device seq, and hands
// them to the publisher in seq order:
//
//	sensor → message → Append (seq, on disk) → Pending → publisher → MQTT QoS 1 → PUBACK → Ack
//
// The publisher is the single consumer: it waits on Notify, reads batches
// with Pending(after, n) and acks each seq when its PUBACK arrives, in any
// order. Run does the periodic work (fsync, segment replacement, age limit,
// seq lease, disk retry) and Stats reports the state.
//
// # Guarantees
//
//   - SIGKILL, panic or OOM kill loses nothing. Append returns only after
//     the record went into the segment file with write(2). The page cache
//     belongs to the kernel, not the process, so the record is there for the
//     next start. Appending to a full or failing disk is the exception:
//     those readings are held in memory (see below) and die with the process.
//   - A power cut loses at most the readings the broker had not acknowledged
//     that were taken in the last SyncWindow (default 1 s): the window counts
//     from the reading's time, or from Append if that is earlier. Run fsyncs
//     before the oldest unacknowledged, unsynced reading is SyncWindow old,
//     starting each fsync earlier by the time the last one took. That holds
//     while an fsync takes less than half of SyncWindow minus Run's tick
//     (SyncWindow/4, at most 250 ms); a slower fsync stretches the window to
//     about twice its duration and is logged (logging.MsgSlowSync).
//     Acknowledged readings are never synced: they are already safe at the
//     broker.
//   - A seq is never handed out for two different readings. Within one boot,
//     a restart continues exactly after the last seq, without a gap. After a
//     reboot or power cut, seq may jump forward (by up to 10,000), and the
//     jump is logged with message id logging.MsgSeqJumped. The page cache may
//     have lost readings whose seqs the broker already saw, and the segments
//     cannot tell how far seq got, so Open continues from the fsynced lease
//     ceiling instead.
//   - Readings may be delivered twice. Acks are recorded in the page cache,
//     not synced: Ack rewrites an acked-through mark in the segment's
//     header at most every 100 ms, and Run catches up on its next tick
//     (at most SyncWindow/4 later) when acks pause. After SIGKILL, panic or
//     OOM within the same boot, a restart resends only the readings after
//     the mark: those in flight at the broker plus the acks of the last
//     100 ms (about 20 readings at 200 per second). After a power
//     cut the mark on disk may be older or torn, so more is resent, up to
//     whole segments; a damaged mark is never trusted, so nothing
//     unacknowledged is skipped. Close records how far everything was
//     acked, so a clean stop causes no duplicates. Consumers deduplicate by
//     (device, seq).
//   - The order is seq order, also across restarts and disk failures.
//
// # On-disk format
//
// The dir (created 0700) holds:
//
//	lock                      POSIX record lock: one process per dir
//	lease                     seq lease, 2 × 512-byte slots
//	00000000000000000001.seg  segment: records from seq 1 on
//	00000000000000004711.seg  segment: records from seq 4711 on
//
// A segment file is named after the first seq it may hold, in 20 digits, so
// that names sort like seqs. A later format would use another suffix. It is
// empty until its first record, which is written together with a 1024-byte
// header; records follow the header back to back and are only ever
// appended. The header is two ack slots, one per 512-byte sector:
//
//	offset size  field (little endian)
//	0      4     magic "EPSG"
//	4      1     version, 1
//	5      3     zero
//	8      8     the segment's base seq, as in its name
//	16     8     acked-through mark: every record of this segment with a
//	             seq up to it was acknowledged or dropped; 0 = none
//	24     4     CRC-32C of bytes 0 … 24
//	28     484   zero
//
// A new file has mark 0 in slot 0 and nothing in slot 1. Marks go to the
// two slots alternately, in place, with pwrite and no fsync; Open uses the
// highest mark of an intact slot naming this segment, and with none intact
// (counted in Stats.OpenDamage.AckMarksLost) resends the whole segment. A
// file shorter than the header is a torn first write. Each record is:
//
//	offset size  field (little endian)
//	0      4     CRC-32C (Castagnoli) of bytes 4 … 24+n
//	4      4     n, payload length (at most MaxPayload)
//	8      8     seq
//	16     8     reading time, Unix nanoseconds (0 = zero time)
//	24     n     payload, the encoded reading, which embeds seq
//
// A new segment is started when the active one reaches SegmentBytes, and
// also when the broker has acknowledged it and it is rotateAfter (5 s) old.
// The new file is always created before the old one is deleted, so the
// newest name tells the last seq handed out even when every record was acked
// and deleted. A segment is deleted when all its records are acked or
// dropped. Records are never rewritten; only the header's ack slots are.
//
// The lease holds the seq ceiling (every seq handed out is below it), the
// boot id (/proc/sys/kernel/random/boot_id) it was written under, whether the
// segments alone tell the last seq, and the seq through which everything was
// acked at the last Close. Each slot is magic "EPLS", version, flags, a
// generation, the ceiling, the acked-through seq and the boot id, closed by a
// CRC-32C. The two slots are written alternately in place and fdatasynced,
// so a torn write spoils only the slot being written. Overwriting blocks that
// are already allocated also works on a full disk. The ceiling is reserved
// 10,000 seqs ahead. Run moves it on when half of that is used, so there is
// one lease fsync per 5,000 readings and Append rarely waits for one.
//
// # Opening and damage
//
// Open never refuses its own damaged content. It indexes every record whose
// checksum matches and whose seq fits the segment (at least the name's seq,
// below the next segment's, ascending). After a bad spot it moves on byte by
// byte to the next record that passes. Torn tails, corrupt records in the
// middle, foreign files and a damaged lease are logged once with counts
// (message id logging.MsgOutboxDamaged) and reported in Stats.OpenDamage.
// Nothing is repaired or truncated. A damaged segment is deleted like any
// other once its intact records are acknowledged. Foreign files, and segment
// files without a single intact record, are left for a person to inspect;
// only the MaxBytes cap removes the latter. With damage, a missing lease, a
// new boot id, or a previous run that kept readings in memory, seq continues
// after the lease ceiling rather than after the last intact record.
//
// A segment that is not the newest is not read at all when its intact ack
// mark, or the lease's acked-through seq, reaches the next segment's base:
// every record of it was acknowledged, and Run deletes it on its first
// tick. Such segments remain after a SIGKILL soon after a backlog drained,
// and reading 64 MiB of them would delay the start.
//
// # Gentle on SD cards
//
// Records go to the page cache at once, but fsync happens only for readings
// still unacknowledged when their SyncWindow is nearly over. While the
// broker acknowledges within the window, nothing is fsynced. The active
// segment is replaced and deleted a few seconds after it was acknowledged,
// well before the kernel writes dirty pages back (dirty_expire_centisecs,
// 30 s by default). Deleting a file with dirty pages cancels their
// writeback, so with a healthy broker the readings practically never reach
// the card. The kernel counts this as write_bytes minus cancelled_write_bytes
// in /proc/self/io, and bench/outbox-io measures it. Ack marks live in the
// segment's first page, which appending has dirtied anyway and which goes
// with the segment, so they add no disk write; they are not fsynced. Only a
// segment that takes longer than the writeback delay to drain after an
// outage has its header page written back, once per delay. During an outage
// every reading is written once (payload plus the 24-byte header, and 1 KiB
// per segment) and fsynced once per window.
//
// # Limits and failing disks
//
// MaxBytes caps the segment files. At the cap the oldest segment goes, with
// the oldest readings, and appending never stops. MaxAge drops readings
// older than it. Each kind of drop is counted in Stats and logged once per
// episode (message id logging.MsgReadingsDropped), not per reading.
//
// When the dir cannot be written (full, I/O error, read-only, not creatable,
// or used by another process), Open still returns a working outbox.
// Readings are kept in memory, up to MemoryLimit with the oldest dropped
// beyond it, and served in seq order after those on disk. The error is
// logged once with the dir and the fix (message id logging.MsgDiskError) and
// shown in Stats.DiskErr. Run retries the disk every few seconds and moves
// the readings held in memory to disk once it works. A readable but
// unwritable dir still serves its backlog.
//
// Limits of the guarantees: readings held in memory are lost if the process
// dies. If the lease cannot be written either (an I/O error rather than a
// full disk) and power is then cut, seq may repeat. If the dir cannot be
// read at all when edgepub starts, seq starts at 1.
//
// # Memory
//
// Only a 32-byte index entry per record stays in memory; payloads are read
// back (normally from the page cache) when Pending needs them. A backlog of
// 100,000 readings of 200 bytes takes about 3.5 MB of heap, and a process
// holding one stays near 10-15 MB RSS.
package outbox
