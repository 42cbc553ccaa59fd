package alert

import (
	"context"
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

// Decision is what a DedupeStore says about one alert.
type Decision struct {
	// Duplicate is true when the same key alerted less than a window ago,
	// from another graph: the alert is dropped.
	Duplicate bool
	// WindowStart is when the current window of this key opened.
	WindowStart time.Time
	// Suppressed is, for a new alert, how many duplicates the previous
	// window of this key dropped; for a duplicate, how many the current
	// window has dropped so far (this one included).
	Suppressed int
}

// DedupeStore remembers which keys alerted recently. A window opens at the
// first alert of a key; repeats from other graphs within the window are
// duplicates; the first repeat after it opens a new window. A repeat from the
// same graph (the queue redelivering a verdict whose first delivery died in
// flight) is never a duplicate: it is alerted again, so no alert is lost.
type DedupeStore interface {
	Check(ctx context.Context, key, graphID string, now time.Time, window time.Duration) (Decision, error)
}

// Forgetter is a DedupeStore that can drop a key's window again, when the
// alert that opened it (from graphID) reached no sink.
type Forgetter interface {
	Forget(ctx context.Context, key, graphID string) error
}

type dedupeRecord struct {
	Key         string    `json:"key"`
	GraphID     string    `json:"graph_id"`
	WindowStart time.Time `json:"window_start"`
	Last        time.Time `json:"last"`
	Suppressed  int       `json:"suppressed"`
}

// decide applies the window rule to a record (nil: unseen key) and returns
// the new record.
func decide(r *dedupeRecord, key, graphID string, now time.Time, window time.Duration) (Decision, dedupeRecord) {
	if r != nil && now.Sub(r.WindowStart) < window && now.Sub(r.WindowStart) >= -window {
		if graphID != "" && r.GraphID == graphID {
			// Redelivery of the verdict that opened the window.
			n := *r
			n.Last = now
			return Decision{WindowStart: r.WindowStart, Suppressed: r.Suppressed}, n
		}
		n := *r
		n.Suppressed++
		n.Last = now
		return Decision{Duplicate: true, WindowStart: r.WindowStart, Suppressed: n.Suppressed}, n
	}
	d := Decision{WindowStart: now}
	if r != nil {
		d.Suppressed = r.Suppressed
	}
	return d, dedupeRecord{Key: key, GraphID: graphID, WindowStart: now, Last: now}
}

// MemoryDedupe is a DedupeStore in memory, for a function whose process
// stays warm, and for tests. At most Max keys are kept (oldest dropped).
type MemoryDedupe struct {
	Max int

	mu   sync.Mutex
	recs map[string]*dedupeRecord
}

// NewMemoryDedupe returns a MemoryDedupe keeping at most max keys (≤ 0:
// DefaultDedupeMax).
func NewMemoryDedupe(max int) *MemoryDedupe {
	if max <= 0 {
		max = DefaultDedupeMax
	}
	return &MemoryDedupe{Max: max, recs: map[string]*dedupeRecord{}}
}

// Check implements DedupeStore.
func (m *MemoryDedupe) Check(_ context.Context, key, graphID string, now time.Time, window time.Duration) (Decision, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.recs == nil {
		m.recs = map[string]*dedupeRecord{}
	}
	d, n := decide(m.recs[key], key, graphID, now, window)
	m.recs[key] = &n
	if max := m.Max; max > 0 && len(m.recs) > max {
		// Drop expired keys, then the least recently seen.
		for k, r := range m.recs {
			if now.Sub(r.WindowStart) >= window {
				delete(m.recs, k)
			}
		}
		for len(m.recs) > max {
			oldest, ot := "", time.Time{}
			for k, r := range m.recs {
				if oldest == "" || r.Last.Before(ot) {
					oldest, ot = k, r.Last
				}
			}
			delete(m.recs, oldest)
		}
	}
	return d, nil
}

// Forget implements Forgetter.
func (m *MemoryDedupe) Forget(_ context.Context, key, graphID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.recs[key]; ok && r.GraphID == graphID {
		delete(m.recs, key)
	}
	return nil
}

// Len is the number of keys held.
func (m *MemoryDedupe) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.recs)
}

// FileDedupe is a DedupeStore in a directory, one small JSON file per key,
// so that it survives between invocations and across the processes of one
// replica (the function's /tmp, or a volume). Check holds an exclusive
// flock on Dir/.lock, so concurrent invocations decide one at a time. At
// most Max keys are kept: when a new key would exceed it, expired keys are
// removed, then the least recently seen.
type FileDedupe struct {
	Dir string
	Max int
}

// NewFileDedupe creates dir if needed.
func NewFileDedupe(dir string, max int) (*FileDedupe, error) {
	if dir == "" {
		return nil, errors.New("dedupe: empty directory")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("dedupe: %w", err)
	}
	if max <= 0 {
		max = DefaultDedupeMax
	}
	return &FileDedupe{Dir: dir, Max: max}, nil
}

const dedupeSuffix = ".json"

func (f *FileDedupe) file(key string) string {
	h := sha256.Sum256([]byte(key))
	return filepath.Join(f.Dir, hex.EncodeToString(h[:16])+dedupeSuffix)
}

// Check implements DedupeStore.
func (f *FileDedupe) Check(ctx context.Context, key, graphID string, now time.Time, window time.Duration) (Decision, error) {
	unlock, err := f.lock(ctx)
	if err != nil {
		return Decision{}, err
	}
	defer unlock()
	name := f.file(key)
	var old *dedupeRecord
	if b, err := os.ReadFile(name); err == nil {
		var r dedupeRecord
		if json.Unmarshal(b, &r) == nil && r.Key == key {
			old = &r
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return Decision{}, fmt.Errorf("dedupe: %w", err)
	}
	d, n := decide(old, key, graphID, now, window)
	b, _ := json.Marshal(n)
	tmp, err := os.CreateTemp(f.Dir, ".tmp-*")
	if err != nil {
		return Decision{}, fmt.Errorf("dedupe: %w", err)
	}
	_, werr := tmp.Write(b)
	cerr := tmp.Close()
	if werr != nil || cerr != nil {
		os.Remove(tmp.Name())
		return Decision{}, fmt.Errorf("dedupe: write: %w", errors.Join(werr, cerr))
	}
	if err := os.Rename(tmp.Name(), name); err != nil {
		os.Remove(tmp.Name())
		return Decision{}, fmt.Errorf("dedupe: %w", err)
	}
	if old == nil {
		if err := f.prune(); err != nil {
			return d, err
		}
	}
	return d, nil
}

// Forget implements Forgetter.
func (f *FileDedupe) Forget(ctx context.Context, key, graphID string) error {
	unlock, err := f.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	name := f.file(key)
	b, err := os.ReadFile(name)
	if err != nil {
		return nil
	}
	var r dedupeRecord
	if json.Unmarshal(b, &r) == nil && r.Key == key && r.GraphID == graphID {
		if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("dedupe: %w", err)
		}
	}
	return nil
}

// lock takes the directory's flock, giving up when ctx ends.
func (f *FileDedupe) lock(ctx context.Context) (func(), error) {
	lf, err := os.OpenFile(filepath.Join(f.Dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("dedupe: %w", err)
	}
	for {
		err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				syscall.Flock(int(lf.Fd()), syscall.LOCK_UN)
				lf.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			lf.Close()
			return nil, fmt.Errorf("dedupe: lock: %w", err)
		}
		select {
		case <-ctx.Done():
			lf.Close()
			return nil, fmt.Errorf("dedupe: lock: %w", ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// prune keeps at most Max key files. Called with the lock held.
func (f *FileDedupe) prune() error {
	ents, err := os.ReadDir(f.Dir)
	if err != nil {
		return fmt.Errorf("dedupe: %w", err)
	}
	type kf struct {
		name string
		mod  time.Time
	}
	var files []kf
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(e.Name(), dedupeSuffix) || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		files = append(files, kf{e.Name(), info.ModTime()})
	}
	if len(files) <= f.Max {
		return nil
	}
	// Least recently seen first: a file's modification time is its key's
	// last sighting, so expired keys go before live ones.
	sort.Slice(files, func(i, j int) bool { return files[i].mod.Before(files[j].mod) })
	excess := len(files) - f.Max
	for _, x := range files {
		if excess <= 0 {
			break
		}
		if err := os.Remove(filepath.Join(f.Dir, x.name)); err == nil || errors.Is(err, fs.ErrNotExist) {
			excess--
		}
	}
	return nil
}

// Len is the number of keys held.
func (f *FileDedupe) Len() int {
	ents, _ := os.ReadDir(f.Dir)
	n := 0
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), dedupeSuffix) && !strings.HasPrefix(e.Name(), ".") {
			n++
		}
	}
	return n
}
