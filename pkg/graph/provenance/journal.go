package provenance

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/faasmon/faasmon/pkg/event"
)

// A container's state is a snapshot (its JSON file) and a journal beside
// it (<file>.journal): the batches applied since the snapshot, as they
// came. Storing a batch appends it to the journal and syncs it, which
// costs a write of the batch; before, every batch re-encoded and rewrote
// the whole state (a busy container's is hundreds of KB), the largest
// part of faasmon-graph's CPU. The snapshot is rewritten every
// snapshotEvery batches, or when the journal passes journalMaxBytes, and
// whenever the state was read from disk (a new process, or another
// replica wrote it), so that replicas taking turns on a container never
// replay more than one journal each.
//
// Journal layout: a 16-byte header (journalMagic, then the generation as
// a little-endian uint64), then records, each a little-endian uint32
// length, a CRC-32C of the data, and the data. The generation ties a
// journal to its snapshot (State.Gen): a snapshot is written with a fresh
// random generation and then the old journal removed, so a process killed
// between the two leaves a journal whose generation no snapshot has,
// which is ignored. A record cut short or damaged at the end of the
// journal is a batch whose write did not finish, hence never
// acknowledged: it is dropped (the tracer sends it again). A damaged
// record with records after it is a state lost, reported like any other
// (Lost).
//
// Replaying a journal does not emit graphs again: a batch's graphs are in
// faasmon-graph's outbox before the batch is journaled (the same order as
// before the state was written), so Replay drops what Apply returns.
const (
	journalMagic    = "fmjrnl1\n"
	journalHeader   = 16
	recordHeader    = 8
	snapshotEvery   = 64
	journalMaxBytes = 8 << 20
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// ReplayBatch returns a FileStore.Replay that applies a journaled event
// batch with b, dropping the graphs it finishes (they were emitted when
// the batch first came). It must be the Builder that applied the batch.
func ReplayBatch(b Builder) func(*State, []byte) error {
	return func(st *State, rec []byte) error {
		batch, err := decodeJournaled(rec)
		if err != nil {
			return err
		}
		if err := batch.Chunk.Validate(); err != nil {
			return fmt.Errorf("journaled batch: %w", err)
		}
		_, err = b.Apply(st, batch)
		return err
	}
}

// decodeJournaled reads a journaled batch in either form faasmon-graph
// accepts (the body is journaled as it came): faasmon-parse's lines
// (event.BatchContentType), or a JSON document. The two cannot be taken
// for each other: the lines' head refuses unknown fields such as a
// document's "events", and a document is one JSON value.
func decodeJournaled(rec []byte) (event.Batch, error) {
	batch, lerr := event.DecodeBatch(rec)
	if lerr == nil {
		return batch, nil
	}
	batch = event.Batch{}
	if err := json.Unmarshal(rec, &batch); err != nil {
		return event.Batch{}, fmt.Errorf("decode journaled batch: not event lines (%v), not a JSON batch (%w)", lerr, err)
	}
	return batch, nil
}

func journalPath(p string) string { return p + ".journal" }

// appendRecord appends rec to p's journal (created with gen's header when
// there is none) and syncs it. It returns the journal's size after.
func appendRecord(p string, gen uint64, rec []byte) (int64, error) {
	jp := journalPath(p)
	f, err := os.OpenFile(jp, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := fi.Size()
	buf := make([]byte, 0, journalHeader+recordHeader+len(rec))
	created := size == 0
	if created {
		buf = append(buf, journalMagic...)
		buf = binary.LittleEndian.AppendUint64(buf, gen)
	}
	buf = binary.LittleEndian.AppendUint32(buf, uint32(len(rec)))
	buf = binary.LittleEndian.AppendUint32(buf, crc32.Checksum(rec, crcTable))
	buf = append(buf, rec...)
	if _, err := f.Write(buf); err != nil {
		return 0, err
	}
	if err := f.Sync(); err != nil {
		return 0, err
	}
	if created {
		// The new file's name must survive a power cut too.
		if d, err := os.Open(filepath.Dir(jp)); err == nil {
			d.Sync()
			d.Close()
		}
	}
	return size + int64(len(buf)), nil
}

// errJournalDamaged marks a journal that cannot be replayed: the state is
// lost.
var errJournalDamaged = errors.New("state journal damaged")

// replayJournal applies p's journal to st, whose snapshot has generation
// st.Gen, and returns how many records it applied and the journal's
// length (0, 0 when there is none or it belongs to another snapshot). max
// bounds the journal's size.
func (s FileStore) replayJournal(p string, st *State, max int64) (recs int, size int64, err error) {
	f, err := os.Open(journalPath(p))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return 0, 0, err
	}
	if int64(len(data)) > max {
		return 0, 0, fmt.Errorf("%w: over the %d-byte bound", errJournalDamaged, max)
	}
	if len(data) < journalHeader || !bytes.Equal(data[:len(journalMagic)], []byte(journalMagic)) {
		// A header cut short is a journal whose first append never
		// finished: nothing in it was acknowledged.
		if len(data) < journalHeader && bytes.HasPrefix([]byte(journalMagic), data[:min(len(data), len(journalMagic))]) {
			return 0, 0, nil
		}
		return 0, 0, fmt.Errorf("%w: bad header", errJournalDamaged)
	}
	if binary.LittleEndian.Uint64(data[len(journalMagic):journalHeader]) != st.Gen {
		return 0, 0, nil // left by a process killed after its snapshot
	}
	off := journalHeader
	for off < len(data) {
		rest := data[off:]
		if len(rest) < recordHeader {
			break // cut short: never acknowledged
		}
		n := int(binary.LittleEndian.Uint32(rest))
		sum := binary.LittleEndian.Uint32(rest[4:])
		if n > len(rest)-recordHeader {
			break // cut short
		}
		rec := rest[recordHeader : recordHeader+n]
		if crc32.Checksum(rec, crcTable) != sum {
			if off+recordHeader+n == len(data) {
				break // the last write, not all of it on disk
			}
			return 0, 0, fmt.Errorf("%w: record %d fails its checksum", errJournalDamaged, recs+1)
		}
		if s.Replay == nil {
			// Not damage: this store cannot read it (a tool's, without
			// the function's Builder). The state is left as it is.
			return 0, 0, fmt.Errorf("%d bytes of journaled batches and no Replay to apply them", len(data)-off)
		}
		if err := s.Replay(st, rec); err != nil {
			return 0, 0, fmt.Errorf("%w: record %d: %v", errJournalDamaged, recs+1, bounded(err.Error(), 200))
		}
		recs++
		off += recordHeader + n
	}
	return recs, int64(off), nil
}

func newGen() uint64 {
	for {
		if g := rand.Uint64(); g != 0 {
			return g
		}
	}
}
