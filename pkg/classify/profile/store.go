package profile

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// MaxFileBytes bounds a stored profile. With the default caps (16
// dimensions × 1024 values × 512 bytes) a profile stays far below it.
const MaxFileBytes = 32 << 20

// Store keeps profiles across restarts, shared by the replicas of the
// classifier.
type Store interface {
	// Load returns the profile of k, nil if there is none.
	Load(k Key) (*Profile, error)
	// Update loads the profile of k (nil if none), calls fn and stores
	// what fn returns (nothing if it returns nil), under k's lock.
	Update(k Key, fn func(*Profile) (*Profile, error)) error
	// Delete removes the profile of k (no error if there is none).
	Delete(k Key) error
	// List returns the keys of every stored profile, sorted.
	List() ([]Key, error)
}

// Versioner is a Store that tells cheaply whether a stored profile
// changed, so that a Learner can keep armed profiles in memory.
type Versioner interface {
	// Version identifies the stored profile's current content; "" when
	// there is none.
	Version(k Key) (string, error)
}

// ErrCorrupt marks a stored profile that cannot be read. It is an error,
// not a fresh start as for the graph state: starting again silently would
// re-learn whatever runs now, which may be an attack. Import or delete the
// profile to go on.
var ErrCorrupt = errors.New("corrupt profile file")

// FileStore keeps one profile per function version as a JSON file (0600)
// in Dir, the approach of provenance.FileStore: a flock per profile
// serialises replicas and concurrent calls on one node, and a write goes
// to a temporary file that is synced and renamed over the old one (and
// the directory synced), so a process killed mid-write, or a power cut,
// leaves the previous profile. On Kubernetes, Dir is a volume that
// outlives the classifier's pods (a hostPath shared by the replicas of a
// node).
//
// The directory is bounded: each redeploy is a new version with a profile
// of its own, so when a version's profile is first stored, the function's
// older versions beyond KeepVersions are deleted (least recently updated
// first).
type FileStore struct {
	Dir string
	// KeepVersions is how many versions of one function keep their
	// profile (the newest); 0 means DefaultKeepVersions.
	KeepVersions int
}

// DefaultKeepVersions keeps the running version, the one before it (a
// rollback re-arms at once) and two more.
const DefaultKeepVersions = 4

var (
	_ Store     = FileStore{}
	_ Versioner = FileStore{}
)

func (s FileStore) path(k Key) string {
	sum := sha256.Sum256([]byte(k.String()))
	return filepath.Join(s.Dir, "profile-"+hex.EncodeToString(sum[:12])+".json")
}

func (s FileStore) lock(k Key, how int) (func(), error) {
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("profile dir: %w", err)
	}
	f, err := os.OpenFile(s.path(k)+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock profile %s: %w", k, err)
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock profile %s: %w", k, err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// Load reads k's profile under a shared lock.
func (s FileStore) Load(k Key) (*Profile, error) {
	if err := k.Validate(); err != nil {
		return nil, err
	}
	unlock, err := s.lock(k, syscall.LOCK_SH)
	if err != nil {
		return nil, err
	}
	defer unlock()
	p, err := readProfileFile(s.path(k))
	if err != nil {
		return nil, fmt.Errorf("load profile %s: %w", k, err)
	}
	if p != nil && p.Key != k {
		return nil, nil // a hash collision: not this profile
	}
	return p, nil
}

// Version implements Versioner: the file's inode, size and modification
// time. Every update renames a new file into place, so the inode changes.
func (s FileStore) Version(k Key) (string, error) {
	fi, err := os.Stat(s.path(k))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	var ino uint64
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		ino = st.Ino
	}
	return fmt.Sprintf("%d-%d-%d", ino, fi.Size(), fi.ModTime().UnixNano()), nil
}

// Update implements Store.
func (s FileStore) Update(k Key, fn func(*Profile) (*Profile, error)) error {
	created, err := s.update(k, fn)
	if err != nil || !created {
		return err
	}
	// Outside k's lock: collecting takes the other versions' locks, and
	// two versions created at once must not wait on each other's.
	return s.collect(k)
}

// collect deletes the profiles of k's function beyond the newest
// KeepVersions (k, just created, counts as the newest).
func (s FileStore) collect(k Key) error {
	keep := s.KeepVersions
	if keep <= 0 {
		keep = DefaultKeepVersions
	}
	// A profile whose key cannot be read is left alone here (Load and
	// List report it): collection goes on with what could be read.
	keys, err := s.versions(k)
	if err != nil {
		return fmt.Errorf("collect profiles of %s: %w", k.Function, err)
	}
	type old struct {
		k   Key
		mod int64
	}
	var others []old
	for _, o := range keys {
		if o.Namespace != k.Namespace || o.Function != k.Function || o == k {
			continue
		}
		fi, serr := os.Stat(s.path(o))
		if serr != nil {
			continue
		}
		others = append(others, old{o, fi.ModTime().UnixNano()})
	}
	if len(others) < keep {
		return err
	}
	sort.Slice(others, func(i, j int) bool {
		if others[i].mod != others[j].mod {
			return others[i].mod > others[j].mod
		}
		return others[i].k.Version < others[j].k.Version
	})
	for _, o := range others[keep-1:] {
		if derr := s.Delete(o.k); derr != nil {
			err = errors.Join(err, derr)
		}
	}
	return err
}

// versions lists the stored keys of k's function. It decodes only each
// file's key: List validates whole profiles (up to MaxFileBytes each),
// which collection does not need.
func (s FileStore) versions(k Key) ([]Key, error) {
	ents, err := os.ReadDir(s.Dir)
	if err != nil {
		return nil, fmt.Errorf("list profiles: %w", err)
	}
	var keys []Key
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() || !strings.HasPrefix(n, "profile-") || !strings.HasSuffix(n, ".json") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(s.Dir, n))
		if err != nil || len(data) > MaxFileBytes {
			continue // gone meanwhile, or not ours to judge here
		}
		var head struct {
			Key Key `json:"key"`
		}
		if json.Unmarshal(data, &head) != nil {
			continue
		}
		if head.Key.Namespace == k.Namespace && head.Key.Function == k.Function {
			keys = append(keys, head.Key)
		}
	}
	return keys, nil
}

// update is Update under k's lock; created says k had no profile before.
func (s FileStore) update(k Key, fn func(*Profile) (*Profile, error)) (created bool, err error) {
	if err := k.Validate(); err != nil {
		return false, err
	}
	unlock, err := s.lock(k, syscall.LOCK_EX)
	if err != nil {
		return false, err
	}
	defer unlock()
	p := s.path(k)
	cur, err := readProfileFile(p)
	if err != nil {
		return false, fmt.Errorf("load profile %s: %w", k, err)
	}
	if cur != nil && cur.Key != k {
		return false, fmt.Errorf("profile %s: file %s holds %s (hash collision)", k, p, cur.Key)
	}
	next, err := fn(cur)
	if err != nil || next == nil {
		return false, err
	}
	if next.Key != k {
		return false, fmt.Errorf("profile %s: update returned the profile of %s", k, next.Key)
	}
	data, err := json.Marshal(next)
	if err != nil {
		return false, fmt.Errorf("encode profile %s: %w", k, err)
	}
	if len(data) > MaxFileBytes {
		return false, fmt.Errorf("profile %s: %d bytes, limit %d", k, len(data), MaxFileBytes)
	}
	if err := writeAtomic(p, data); err != nil {
		return false, fmt.Errorf("store profile %s: %w", k, err)
	}
	return cur == nil, nil
}

// Delete implements Store.
func (s FileStore) Delete(k Key) error {
	if err := k.Validate(); err != nil {
		return err
	}
	unlock, err := s.lock(k, syscall.LOCK_EX)
	if err != nil {
		return err
	}
	defer unlock()
	if err := os.Remove(s.path(k)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete profile %s: %w", k, err)
	}
	return nil
}

// List implements Store. Files that cannot be read are reported in the
// error after the keys that could.
func (s FileStore) List() ([]Key, error) {
	ents, err := os.ReadDir(s.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list profiles: %w", err)
	}
	var keys []Key
	var errs []error
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() || !strings.HasPrefix(n, "profile-") || !strings.HasSuffix(n, ".json") {
			continue
		}
		p, err := readProfileFile(filepath.Join(s.Dir, n))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", n, err))
			continue
		}
		if p != nil {
			keys = append(keys, p.Key)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	return keys, errors.Join(errs...)
}

// readProfileFile reads and validates a stored profile; nil, nil if there
// is none.
func readProfileFile(p string) (*Profile, error) {
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("%w: over %d bytes", ErrCorrupt, MaxFileBytes)
	}
	var prof Profile
	if err := json.Unmarshal(data, &prof); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if err := prof.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return &prof, nil
}

// writeAtomic writes data to p through a synced temporary file and a
// rename, then syncs the directory so that the rename itself is durable.
// The caller holds p's lock, so one temporary name is enough.
func writeAtomic(p string, data []byte) error {
	tmp := p + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, p); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(p))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
