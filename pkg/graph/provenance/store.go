package provenance

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// maxStateBytes bounds a stored state: a state that grew past it (a
// container with runaway open invocations) is dropped and started again
// rather than read into memory.
const maxStateBytes = 64 << 20

// FileStore keeps one State per container as a JSON file in Dir.
//
// faasmon-graph is a function and has no memory between calls, while a
// graph may span several chunks: the half-built graphs wait here. Writes go
// to a temporary file renamed over the old one, so a function killed
// mid-write leaves the previous state, and a flock per container serialises
// replicas and concurrent calls on one node. On Kubernetes, Dir is a volume
// that outlives the function's pod.
type FileStore struct {
	Dir string
	// MaxBytes bounds a stored state (maxStateBytes when 0): a bigger one
	// is discarded on load and reported (Lost).
	MaxBytes int64
	// Cache, when set, keeps the states this process last stored, so that
	// the next batch of a container skips reading and decoding its file
	// when nobody else wrote it since (its inode, size and time are the
	// ones this process left). Re-reading and decoding the state for
	// every batch was the largest part of faasmon-graph's CPU.
	Cache *StateCache
	// Replay applies one journaled batch to a state (ReplayBatch with the
	// Builder that applied it). With it, UpdateBatch appends batches to a
	// journal instead of rewriting the state (journal.go); without it,
	// UpdateBatch is UpdateLost, and a state with a journal cannot be read.
	Replay func(st *State, rec []byte) error
}

// StateCache holds decoded states by file, bounded in total encoded size.
// Safe for concurrent use.
type StateCache struct {
	// MaxBytes bounds the sum of the cached states' encoded sizes
	// (defaultCacheBytes when 0).
	MaxBytes int64

	mu      sync.Mutex
	entries map[string]cached
	bytes   int64
	hits    uint64
	misses  uint64
}

type cached struct {
	st  *State
	id  fileID
	len int64 // the snapshot's encoded size
	// jid is the journal's identity (zero: none), recs and jlen its
	// records and bytes.
	jid  fileID
	recs int
	jlen int64
}

// fileID is what tells a file this process wrote from one written since.
type fileID struct {
	ino, size uint64
	mtime     int64
}

const defaultCacheBytes = 64 << 20

func statID(p string) (fileID, bool) {
	fi, err := os.Stat(p)
	if err != nil {
		return fileID{}, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, false
	}
	return fileID{ino: st.Ino, size: uint64(fi.Size()), mtime: fi.ModTime().UnixNano()}, true
}

// journalID is the identity of p's journal, zero when there is none.
func journalID(p string) fileID {
	id, _ := statID(journalPath(p))
	return id
}

// take returns and forgets the cached state of p when its snapshot and
// journal are still the ones it was stored as: the caller is about to
// change it.
func (c *StateCache) take(p string) (cached, bool) {
	if c == nil {
		return cached{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[p]
	if !ok {
		c.misses++
		return cached{}, false
	}
	delete(c.entries, p)
	c.bytes -= e.len + e.jlen
	if id, ok := statID(p); !ok || id != e.id || journalID(p) != e.jid {
		c.misses++
		return cached{}, false
	}
	c.hits++
	return e, true
}

// put caches e.st as the content of p, just stored.
func (c *StateCache) put(p string, e cached) {
	if c == nil {
		return
	}
	max := c.MaxBytes
	if max <= 0 {
		max = defaultCacheBytes
	}
	id, ok := statID(p)
	n := e.len + e.jlen
	if !ok || n > max/4 {
		return // one huge state would push out every other
	}
	e.id, e.jid = id, journalID(p)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[string]cached{}
	}
	for k, e := range c.entries {
		if c.bytes+n <= max {
			break
		}
		delete(c.entries, k)
		c.bytes -= e.len + e.jlen
	}
	c.entries[p] = e
	c.bytes += n
}

// Stats returns the cache's hits and misses so far.
func (c *StateCache) Stats() (hits, misses uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits, c.misses
}

func (s FileStore) path(key string) string {
	sum := sha256.Sum256([]byte(key))
	return filepath.Join(s.Dir, hex.EncodeToString(sum[:12]))
}

// Update loads the state for key (nil if none), calls fn, and stores what
// fn returns (nothing if it returns nil), all under the container's lock.
func (s FileStore) Update(key string, fn func(*State) (*State, error)) error {
	return s.UpdateLost(key, func(st *State, _ *Lost) (*State, error) { return fn(st) })
}

// Lost says why a stored state was discarded on load, and how many open
// invocations it held (-1 when it could not be read).
type Lost struct {
	Reason    string
	OpenCalls int
}

// UpdateLost is Update that also tells fn, when st is nil, whether a state
// was stored and discarded (lost non-nil): a reset the next graph reports
// as a blind spot (State.NoteReset). What fn returns is written as a new
// snapshot.
func (s FileStore) UpdateLost(key string, fn func(*State, *Lost) (*State, error)) error {
	return s.update(key, nil, fn)
}

// UpdateBatch is UpdateLost for a change that is one batch, rec, applied
// by fn: rec is appended to the container's journal instead of the whole
// state being written again, when the state this process stored last is
// still the one on disk (see journal.go). Once it returns nil, the batch
// is on disk (synced) either way.
func (s FileStore) UpdateBatch(key string, rec []byte, fn func(*State, *Lost) (*State, error)) error {
	if rec == nil {
		rec = []byte{}
	}
	return s.update(key, rec, fn)
}

func (s FileStore) update(key string, rec []byte, fn func(*State, *Lost) (*State, error)) error {
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return fmt.Errorf("state dir: %w", err)
	}
	p := s.path(key)
	lock, err := lockFile(p+".lock", syscall.LOCK_EX)
	if err != nil {
		return fmt.Errorf("lock state %s: %w", key, err)
	}
	defer lock.Close() // closing releases the flock

	// A cached state is taken out before fn may change it, and put back
	// only once what fn returned is on disk: on any error the next batch
	// reads the file again.
	e, hit := s.Cache.take(p)
	st := e.st
	var lost *Lost
	if !hit {
		if st, lost, err = s.load(p); err != nil {
			return fmt.Errorf("load state %s: %w", key, err)
		}
	}
	if st != nil && st.Key != key {
		// A hash collision or a foreign file: start again.
		st, lost = nil, &Lost{Reason: "the stored state belongs to another container", OpenCalls: -1}
	}
	next, err := fn(st, lost)
	if err != nil || next == nil {
		return err
	}
	// Journal the batch when the snapshot on disk plus the journal is the
	// state fn was given (a cache hit on the same state), and the journal
	// is short enough to replay.
	if rec != nil && s.Replay != nil && hit && next == st && next.Gen != 0 &&
		e.recs < snapshotEvery && e.jlen+int64(len(rec)) <= min(journalMaxBytes, s.maxBytes()) {
		jlen, err := appendRecord(p, next.Gen, rec)
		if err != nil {
			return fmt.Errorf("journal batch of %s: %w", key, err)
		}
		e.recs, e.jlen = e.recs+1, jlen
		s.Cache.put(p, e)
		return nil
	}
	n, err := s.snapshot(p, next)
	if err != nil {
		return fmt.Errorf("store state %s: %w", key, err)
	}
	s.Cache.put(p, cached{st: next, len: n})
	return nil
}

// snapshot writes st as p's snapshot under a new generation, then removes
// the journal it replaces (journal.go: a journal left by a kill between
// the two has the old generation, and is ignored). It returns the
// snapshot's size.
func (s FileStore) snapshot(p string, st *State) (int64, error) {
	old := st.Gen
	st.Gen = newGen()
	data, err := json.Marshal(st)
	if err != nil {
		st.Gen = old
		return 0, fmt.Errorf("encode: %w", err)
	}
	tmp := p + ".tmp"
	if err := writeSynced(tmp, data); err != nil {
		st.Gen = old
		return 0, err
	}
	if err := os.Rename(tmp, p); err != nil {
		st.Gen = old
		return 0, err
	}
	if err := os.Remove(journalPath(p)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("remove the old journal: %w", err)
	}
	return int64(len(data)), nil
}

// writeSynced writes data to path and syncs it before the caller renames
// it into place: a rename of unsynced data can leave an empty file after a
// crash, which is a state reset.
func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// lockFile opens and flocks path (how: LOCK_EX, maybe with LOCK_NB), and
// makes sure the lock held is on the file the path names: Collect removes
// lock files, and a process that opened one just before its removal would
// otherwise hold a lock nobody else takes.
func lockFile(path string, how int) (*os.File, error) {
	for {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			return nil, err
		}
		if err := syscall.Flock(int(f.Fd()), how); err != nil {
			f.Close()
			return nil, err
		}
		held, err1 := f.Stat()
		named, err2 := os.Stat(path)
		if err1 == nil && err2 == nil && os.SameFile(held, named) {
			return f, nil
		}
		f.Close()
		if err1 != nil {
			return nil, err1
		}
	}
}

// Collect removes the states not updated for longer than keep, with their
// lock files, and the temporary files a killed process left: a container
// that is gone sends nothing more, and its state would otherwise stay for
// ever. A state in use is skipped (its lock is held). It returns how many
// states it removed.
func (s FileStore) Collect(keep time.Duration, now time.Time) (int, error) {
	ents, err := os.ReadDir(s.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("collect states: %w", err)
	}
	n := 0
	for _, e := range ents {
		name := e.Name()
		full := filepath.Join(s.Dir, name)
		info, err := e.Info()
		if err != nil || e.IsDir() || now.Sub(info.ModTime()) <= keep {
			continue
		}
		switch {
		case strings.HasSuffix(name, ".tmp"):
			os.Remove(full)
		case strings.HasSuffix(name, ".journal"):
			// Only a journal whose state is gone: the state's own case
			// removes the others.
			if _, err := os.Stat(strings.TrimSuffix(full, ".journal")); errors.Is(err, fs.ErrNotExist) {
				if lock, err := lockFile(strings.TrimSuffix(full, ".journal")+".lock", syscall.LOCK_EX|syscall.LOCK_NB); err == nil {
					os.Remove(full)
					lock.Close()
				}
			}
		case strings.HasSuffix(name, ".lock"):
			// Only a lock whose state is gone (or as old): the state's
			// own case below removes the others.
			if _, err := os.Stat(strings.TrimSuffix(full, ".lock")); errors.Is(err, fs.ErrNotExist) {
				if lock, err := lockFile(full, syscall.LOCK_EX|syscall.LOCK_NB); err == nil {
					os.Remove(full)
					lock.Close()
				}
			}
		case filepath.Ext(name) == "":
			lock, err := lockFile(full+".lock", syscall.LOCK_EX|syscall.LOCK_NB)
			if err != nil {
				continue // in use
			}
			// Updated while we waited for nothing? Look again under the
			// lock. A state's last update may be in its journal only.
			fi, err := os.Stat(full)
			quiet := err == nil && now.Sub(fi.ModTime()) > keep
			if ji, err := os.Stat(journalPath(full)); quiet && err == nil && now.Sub(ji.ModTime()) <= keep {
				quiet = false
			}
			if quiet {
				if os.Remove(full) == nil {
					n++
				}
				os.Remove(journalPath(full))
				os.Remove(full + ".lock")
			}
			lock.Close()
		}
	}
	return n, nil
}

func (s FileStore) load(p string) (*State, *Lost, error) {
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if max := s.maxBytes(); fi.Size() > max {
		return nil, &Lost{Reason: fmt.Sprintf("stored state of %d bytes is over the %d-byte bound", fi.Size(), max), OpenCalls: -1}, nil
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, nil, err
	}
	var st State
	if err := json.Unmarshal(data, &st); err != nil {
		// A state we cannot read is lost either way; starting again keeps
		// the pipeline moving, and the next graph reports the reset.
		return nil, &Lost{Reason: "stored state unreadable: " + bounded(err.Error(), 200), OpenCalls: -1}, nil
	}
	if st.Procs == nil || st.Calls == nil || st.Streams == nil {
		return nil, &Lost{Reason: "stored state incomplete", OpenCalls: len(st.Calls)}, nil
	}
	if st.Threads == nil {
		st.Threads = map[int]int{}
	}
	if _, _, err := s.replayJournal(p, &st, s.maxBytes()); err != nil {
		if errors.Is(err, errJournalDamaged) {
			// The snapshot alone would silently miss batches already
			// acknowledged: a reset, reported as such.
			return nil, &Lost{Reason: bounded(err.Error(), 300), OpenCalls: len(st.Calls)}, nil
		}
		return nil, nil, err
	}
	return &st, nil, nil
}

func (s FileStore) maxBytes() int64 {
	if s.MaxBytes > 0 {
		return s.MaxBytes
	}
	return maxStateBytes
}

// Archive writes g as <dir>/<sanitised id>.json (atomically), for datasets
// and for people who want to look at every graph.
func Archive(dir string, g *Graph) (string, error) {
	// Graphs hold command lines and paths: readable by the detector only.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("archive dir: %w", err)
	}
	data, err := json.Marshal(g)
	if err != nil {
		return "", fmt.Errorf("encode graph %s: %w", g.ID, err)
	}
	p := filepath.Join(dir, FileName(g.ID))
	if err := os.WriteFile(p+".tmp", data, 0o600); err != nil {
		return "", fmt.Errorf("archive graph %s: %w", g.ID, err)
	}
	return p, os.Rename(p+".tmp", p)
}

// FileName maps a graph id to a safe file name.
func FileName(id string) string {
	b := []byte(id)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			b[i] = '_'
		}
	}
	if len(b) > 200 {
		sum := sha256.Sum256([]byte(id))
		b = append(b[:180], hex.EncodeToString(sum[:8])...)
	}
	return string(b) + ".json"
}

// PruneArchive keeps the newest max graphs of an archive directory (by
// modification time) and deletes the rest, so that an archive left on
// cannot fill the disk. It returns how many it deleted.
func PruneArchive(dir string, max int) (int, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("prune archive: %w", err)
	}
	type file struct {
		name string
		mod  time.Time
	}
	var files []file
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		if info, err := e.Info(); err == nil {
			files = append(files, file{e.Name(), info.ModTime()})
		}
	}
	if len(files) <= max {
		return 0, nil
	}
	sort.Slice(files, func(i, j int) bool { return files[i].mod.Before(files[j].mod) })
	n := 0
	for _, f := range files[:len(files)-max] {
		if os.Remove(filepath.Join(dir, f.name)) == nil {
			n++
		}
	}
	return n, nil
}
