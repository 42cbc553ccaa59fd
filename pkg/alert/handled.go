package alert

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/faasmon/faasmon/pkg/outbox"
)

// Ledger remembers the graphs whose alert went out, so that the outbox
// consumer does not alert a second time for a verdict the callback path
// already delivered. It need only remember for longer than an outbox entry
// can wait (outbox.DefaultMaxAge).
type Ledger interface {
	Seen(ctx context.Context, graphID string) (bool, error)
	Mark(ctx context.Context, graphID string) error
}

// LedgerRetention is how long a FileLedger keeps a graph.
const LedgerRetention = 2 * outbox.DefaultMaxAge

// FileLedger keeps one empty file per graph in a directory that outlives
// the function process (dedupe_dir/handled), so that a restarted
// faasmon-alert still knows what it delivered. Files older than
// LedgerRetention are pruned every pruneEvery marks.
type FileLedger struct {
	dir   string
	marks atomic.Uint64
}

const pruneEvery = 256

// NewFileLedger creates dir if needed.
func NewFileLedger(dir string) (*FileLedger, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("handled ledger: %w", err)
	}
	return &FileLedger{dir: dir}, nil
}

func (l *FileLedger) path(graphID string) string {
	h := sha256.Sum256([]byte(graphID))
	return filepath.Join(l.dir, hex.EncodeToString(h[:16]))
}

func (l *FileLedger) Seen(_ context.Context, graphID string) (bool, error) {
	_, err := os.Stat(l.path(graphID))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("handled ledger: %w", err)
	}
	return true, nil
}

func (l *FileLedger) Mark(_ context.Context, graphID string) error {
	f, err := os.OpenFile(l.path(graphID), os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("handled ledger: %w", err)
	}
	f.Close()
	if l.marks.Add(1)%pruneEvery == 0 {
		l.prune(time.Now().Add(-LedgerRetention))
	}
	return nil
}

func (l *FileLedger) prune(before time.Time) {
	entries, _ := os.ReadDir(l.dir)
	for _, e := range entries {
		if info, err := e.Info(); err == nil && info.ModTime().Before(before) {
			os.Remove(filepath.Join(l.dir, e.Name()))
		}
	}
}

// MemoryLedger is a Ledger in the process (dedupe_dir=memory),
// holding at most max graphs (the oldest are forgotten first).
type MemoryLedger struct {
	mu    sync.Mutex
	max   int
	seen  map[string]struct{}
	order []string
}

// NewMemoryLedger returns a ledger of at most max graphs (10,000 when ≤ 0).
func NewMemoryLedger(max int) *MemoryLedger {
	if max <= 0 {
		max = DefaultDedupeMax
	}
	return &MemoryLedger{max: max, seen: map[string]struct{}{}}
}

func (m *MemoryLedger) Seen(_ context.Context, graphID string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.seen[graphID]
	return ok, nil
}

func (m *MemoryLedger) Mark(_ context.Context, graphID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.seen[graphID]; ok {
		return nil
	}
	if len(m.order) >= m.max {
		delete(m.seen, m.order[0])
		m.order = m.order[1:]
	}
	m.seen[graphID] = struct{}{}
	m.order = append(m.order, graphID)
	return nil
}
