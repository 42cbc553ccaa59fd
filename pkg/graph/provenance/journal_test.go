package provenance

import (
	"encoding/json"
	"fmt"
	"hash/crc32"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/faasmon/faasmon/pkg/chunk"
	"github.com/faasmon/faasmon/pkg/event"
)

// journalStream is a container's stream of batches: invocations cut in
// two by chunk boundaries, so that every batch but the first leaves an
// invocation open in the state.
func journalStream(n int) []event.Batch {
	var out []event.Batch
	seq := uint64(0)
	for i := 0; i < n; i++ {
		evs := downloadAndExec(fmt.Sprintf("call-%d", i), i*100)
		out = append(out, batchOf(hdr(chunk.KindStrace, "s1", seq), evs[:5]...))
		out = append(out, batchOf(hdr(chunk.KindStrace, "s1", seq+1), evs[5:]...))
		seq += 2
	}
	return out
}

// applyBatch is faasmon-graph's use of the store: the batch is applied
// and journaled as the bytes it came as — in either form faasmon-graph
// accepts, alternately: faasmon-parse's event lines for odd sequence
// numbers, a JSON document for even ones (a replay must read both).
func applyBatch(t testing.TB, s FileStore, b Builder, batch event.Batch) []Graph {
	t.Helper()
	var rec []byte
	var err error
	if batch.Chunk.Seq%2 == 1 {
		rec, err = event.AppendBatch(nil, &batch)
	} else {
		rec, err = json.Marshal(batch)
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []Graph
	err = s.UpdateBatch(StateKey(batch.Chunk), rec, func(st *State, lost *Lost) (*State, error) {
		if lost != nil {
			t.Errorf("state lost: %+v", lost)
		}
		if st == nil {
			st = NewState(batch.Chunk)
		}
		g, err := b.Apply(st, batch)
		out = g
		return st, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func graphIDs(gs []Graph) []string {
	var ids []string
	for _, g := range gs {
		ids = append(ids, g.ID+fmt.Sprint(len(g.Nodes), len(g.Edges), g.Chunks))
	}
	return ids
}

// TestJournalKilledProcess: a process killed at any batch, and a new one
// that goes on from the disk, emit between them the graphs one process
// emits, each once (the new process's replay emits none), and while the
// state is cached a batch is appended to the journal, not the snapshot
// rewritten.
func TestJournalKilledProcess(t *testing.T) {
	b := Builder{Class: DefaultClassifier()}
	stream := journalStream(6)
	var want []Graph
	{
		s := FileStore{Dir: t.TempDir()} // no cache, no journal: every batch a snapshot
		for _, batch := range stream {
			want = append(want, applyBatch(t, s, b, batch)...)
		}
	}
	if len(want) != 6 {
		t.Fatalf("reference run: %d graphs", len(want))
	}
	for kill := 1; kill < len(stream); kill++ {
		dir := t.TempDir()
		first := FileStore{Dir: dir, Cache: &StateCache{}, Replay: ReplayBatch(b)}
		var got []Graph
		for i, batch := range stream[:kill] {
			before, _ := statID(first.path(StateKey(batch.Chunk)))
			got = append(got, applyBatch(t, first, b, batch)...)
			after, _ := statID(first.path(StateKey(batch.Chunk)))
			if i > 0 && before != after {
				t.Fatalf("kill at %d: batch %d rewrote the snapshot", kill, i)
			}
		}
		second := FileStore{Dir: dir, Cache: &StateCache{}, Replay: ReplayBatch(b)}
		for _, batch := range stream[kill:] {
			got = append(got, applyBatch(t, second, b, batch)...)
		}
		if g, w := graphIDs(got), graphIDs(want); !reflect.DeepEqual(g, w) {
			t.Errorf("kill at batch %d: graphs\n%v\nwant\n%v", kill, g, w)
		}
	}
}

// TestJournalSnapshotEvery: the journal is folded into a new snapshot
// after snapshotEvery batches, so a new process replays at most that many.
func TestJournalSnapshotEvery(t *testing.T) {
	b := Builder{Class: DefaultClassifier()}
	dir := t.TempDir()
	s := FileStore{Dir: dir, Cache: &StateCache{}, Replay: ReplayBatch(b)}
	h := hdr(chunk.KindStrace, "s1", 0)
	p := s.path(StateKey(h))
	for i := 0; i <= snapshotEvery+1; i++ {
		applyBatch(t, s, b, batchOf(hdr(chunk.KindStrace, "s1", uint64(i)), bgEvent(i)))
		_, err := os.Stat(journalPath(p))
		switch i {
		case 0, snapshotEvery + 1:
			if err == nil {
				t.Fatalf("batch %d: a journal beside a fresh snapshot", i)
			}
		default:
			if err != nil {
				t.Fatalf("batch %d: no journal: %v", i, err)
			}
		}
	}
	fi, err := os.Stat(journalPath(p))
	if err == nil && fi.Mode().Perm() != 0o600 {
		t.Errorf("journal mode %v", fi.Mode())
	}
}

// TestJournalFromDisk: what a new process makes of the journal it finds:
// the end of a write cut short is dropped (never acknowledged), damage
// before the end or past the bound is a state lost (reported, not a
// panic), a journal left beside a newer snapshot is ignored, and a store
// without Replay refuses a journal rather than dropping it.
func TestJournalFromDisk(t *testing.T) {
	b := Builder{Class: DefaultClassifier()}
	stream := journalStream(2) // 4 batches
	cases := []struct {
		name   string
		damage func(t *testing.T, jp string, data []byte)
		store  func(s FileStore) FileStore
		lost   bool
		err    bool
		next   uint64
	}{
		{"intact", nil, nil, false, false, 4},
		{"last record cut short", func(t *testing.T, jp string, data []byte) { os.WriteFile(jp, data[:len(data)-3], 0o600) }, nil, false, false, 3},
		{"last record's header cut short", func(t *testing.T, jp string, data []byte) {
			os.WriteFile(jp, data[:len(data)-lastRecordLen(t, data)+5], 0o600)
		}, nil, false, false, 3},
		{"last record damaged", func(t *testing.T, jp string, data []byte) {
			data[len(data)-2] ^= 0xff
			os.WriteFile(jp, data, 0o600)
		}, nil, false, false, 3},
		{"header cut short", func(t *testing.T, jp string, data []byte) { os.WriteFile(jp, data[:5], 0o600) }, nil, false, false, 1},
		{"first record damaged", func(t *testing.T, jp string, data []byte) {
			data[journalHeader+recordHeader+2] ^= 0xff
			os.WriteFile(jp, data, 0o600)
		}, nil, true, false, 0},
		{"record length past the end", func(t *testing.T, jp string, data []byte) {
			data[journalHeader+3] = 0x7f
			os.WriteFile(jp, data, 0o600)
		}, nil, false, false, 1},
		{"bad header", func(t *testing.T, jp string, data []byte) {
			os.WriteFile(jp, append([]byte("garbage!"), data[8:]...), 0o600)
		}, nil, true, false, 0},
		{"another generation's", func(t *testing.T, jp string, data []byte) {
			data[len(journalMagic)] ^= 1
			os.WriteFile(jp, data, 0o600)
		}, nil, false, false, 1},
		{"over the bound", nil, func(s FileStore) FileStore { s.MaxBytes = 64; return s }, true, false, 0},
		{"no Replay", nil, func(s FileStore) FileStore { s.Replay = nil; return s }, false, true, 0},
		{"a record the builder refuses", func(t *testing.T, jp string, data []byte) {
			// A well-framed record that is not a batch.
			rec := []byte(`{"version":1}`)
			jf, _ := os.OpenFile(jp, os.O_APPEND|os.O_WRONLY, 0o600)
			var frame []byte
			frame = append(frame, byte(len(rec)), 0, 0, 0)
			sum := crcOf(rec)
			frame = append(frame, byte(sum), byte(sum>>8), byte(sum>>16), byte(sum>>24))
			jf.Write(append(frame, rec...))
			jf.Close()
		}, nil, true, false, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			s := FileStore{Dir: dir, Cache: &StateCache{}, Replay: ReplayBatch(b)}
			for _, batch := range stream {
				applyBatch(t, s, b, batch)
			}
			key := StateKey(stream[0].Chunk)
			jp := journalPath(s.path(key))
			data, err := os.ReadFile(jp)
			if err != nil {
				t.Fatal(err)
			}
			if c.damage != nil {
				c.damage(t, jp, data)
			}
			fresh := FileStore{Dir: dir, Replay: ReplayBatch(b)}
			if c.store != nil {
				fresh = c.store(fresh)
			}
			var lost *Lost
			var next uint64
			err = fresh.UpdateLost(key, func(st *State, l *Lost) (*State, error) {
				lost = l
				if st != nil && st.Streams["s1"] != nil {
					next = st.Streams["s1"].Next
				}
				return nil, nil
			})
			if (err != nil) != c.err || (lost != nil) != c.lost || next != c.next {
				t.Fatalf("err %v, lost %+v, next %d; want err %v, lost %v, next %d", err, lost, next, c.err, c.lost, c.next)
			}
			if lost != nil && !strings.Contains(lost.Reason, "journal") && !strings.Contains(lost.Reason, "bound") {
				t.Errorf("reason %q", lost.Reason)
			}
		})
	}
}

// lastRecordLen is the framed length of data's last record.
func lastRecordLen(t *testing.T, data []byte) int {
	off, last := journalHeader, 0
	for off < len(data) {
		n := int(data[off]) | int(data[off+1])<<8 | int(data[off+2])<<16 | int(data[off+3])<<24
		last = recordHeader + n
		off += last
	}
	return last
}

// FuzzReplayJournal: whatever the journal file holds, loading it gives a
// state, a reported loss or an error, never a panic or a hang.
func FuzzReplayJournal(f *testing.F) {
	b := Builder{Class: DefaultClassifier()}
	dir := f.TempDir()
	s := FileStore{Dir: dir, Cache: &StateCache{}, Replay: ReplayBatch(b)}
	for _, batch := range journalStream(1) {
		applyBatch(f, s, b, batch)
	}
	key := StateKey(journalStream(1)[0].Chunk)
	p := s.path(key)
	snap, err := os.ReadFile(p)
	if err != nil {
		f.Fatal(err)
	}
	journal, err := os.ReadFile(journalPath(p))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(journal)
	f.Add(journal[:len(journal)/2])
	f.Add([]byte(journalMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		d := t.TempDir()
		fs := FileStore{Dir: d, Replay: ReplayBatch(b), MaxBytes: 1 << 20}
		fp := fs.path(key)
		os.WriteFile(fp, snap, 0o600)
		os.WriteFile(journalPath(fp), data, 0o600)
		fs.UpdateLost(key, func(st *State, l *Lost) (*State, error) { return nil, nil })
	})
}

func crcOf(b []byte) uint32 { return crc32.Checksum(b, crcTable) }

// TestCollectJournal: a state whose snapshot is old but whose journal is
// recent is in use, not collected; an old one goes with its journal, and
// a journal whose state is gone goes too.
func TestCollectJournal(t *testing.T) {
	b := Builder{Class: DefaultClassifier()}
	now := t0.Add(100 * time.Hour)
	for _, c := range []struct {
		name       string
		journalAge time.Duration
		kept       bool
	}{{"journal recent", time.Hour, true}, {"both old", 48 * time.Hour, false}} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			s := FileStore{Dir: dir, Cache: &StateCache{}, Replay: ReplayBatch(b)}
			for _, batch := range journalStream(1) {
				applyBatch(t, s, b, batch)
			}
			p := s.path(StateKey(journalStream(1)[0].Chunk))
			old := now.Add(-48 * time.Hour)
			os.Chtimes(p, old, old)
			os.Chtimes(p+".lock", old, old)
			ja := now.Add(-c.journalAge)
			os.Chtimes(journalPath(p), ja, ja)
			if _, err := s.Collect(24*time.Hour, now); err != nil {
				t.Fatal(err)
			}
			_, serr := os.Stat(p)
			_, jerr := os.Stat(journalPath(p))
			if (serr == nil) != c.kept || (jerr == nil) != c.kept {
				t.Errorf("state kept %v, journal kept %v; want %v", serr == nil, jerr == nil, c.kept)
			}
		})
	}
	t.Run("orphan journal", func(t *testing.T) {
		dir := t.TempDir()
		jp := journalPath(FileStore{Dir: dir}.path("x"))
		os.WriteFile(jp, []byte(journalMagic), 0o600)
		old := now.Add(-48 * time.Hour)
		os.Chtimes(jp, old, old)
		if _, err := (FileStore{Dir: dir}).Collect(24*time.Hour, now); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(jp); err == nil {
			t.Error("orphan journal left")
		}
	})
}
