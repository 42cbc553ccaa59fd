package heartbeat

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/faasmon/faasmon/pkg/chunk"
)

// Kind is the chunk kind of a heartbeat.
const Kind chunk.Kind = "heartbeat"

// Function is the pseudo-function a heartbeat's header names (its
// Container is the node): alerts about a node's tracer name it.
const Function = "faasmon-tracer"

func init() { chunk.RegisterKind(Kind, chunk.RoleControl) }

// Body is a heartbeat's content, for people reading it: the stages act on
// its header only.
type Body struct {
	Node string    `json:"node"`
	Sent time.Time `json:"sent"`
	Seq  uint64    `json:"seq"`
}

// Chunk is the seq-th heartbeat of node's tracer (pid, started at start).
func Chunk(node string, pid int, start time.Time, seq uint64, now time.Time) (chunk.Header, []byte) {
	h := chunk.Header{Node: node, Function: Function, Container: node, PID: pid, Kind: Kind,
		Stream: node + "-" + string(Kind) + "-" + strconv.FormatInt(start.UnixNano(), 10), Seq: seq, Start: now, End: now}
	b, _ := json.Marshal(Body{Node: node, Sent: now.UTC(), Seq: seq})
	return h, b
}

// Tracker keeps, per node, when it was last heard of and whether it is
// known to be silent, as files in Dir (mode 0600): faasmon-graph's
// replicas and restarts share it. MaxNodes bounds the directory.
type Tracker struct {
	Dir      string
	MaxNodes int // 4096 when 0
}

// ErrFull: a new node would pass MaxNodes.
var ErrFull = errors.New("heartbeat: node table full")

func (t Tracker) path(node, suffix string) string {
	return filepath.Join(t.Dir, safe(node)+suffix)
}

// safe maps a node name (a chunk header field: at most 253 bytes, no
// control characters, but any other byte) to a file name.
func safe(node string) string {
	b := []byte(node)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			b[i] = '_'
		}
	}
	if len(b) == 0 || b[0] == '.' {
		b = append([]byte("n"), b...)
	}
	return string(b)
}

// Seen records that node was heard of at now. It rewrites the node's file
// only when the last record is older than a second, so that a busy node
// costs one stat per batch.
func (t Tracker) Seen(node string, now time.Time) error {
	p := t.path(node, ".seen")
	fi, err := os.Stat(p)
	switch {
	case err == nil:
		if now.Sub(fi.ModTime()) < time.Second {
			return nil
		}
		return os.Chtimes(p, now, now)
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("heartbeat: %w", err)
	}
	if err := os.MkdirAll(t.Dir, 0o700); err != nil {
		return fmt.Errorf("heartbeat dir: %w", err)
	}
	max := t.MaxNodes
	if max <= 0 {
		max = 4096
	}
	if ents, err := os.ReadDir(t.Dir); err == nil && len(ents) >= 2*max {
		return ErrFull
	}
	// The file holds the node's real name: file names are sanitised.
	if err := os.WriteFile(p, []byte(node), 0o600); err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	return os.Chtimes(p, now, now)
}

// Forget is how long a silent node is remembered: past it, its files are
// removed (it was reported when it went silent).
const Forget = 7 * 24 * time.Hour

// Change is a node going silent or being heard again.
type Change struct {
	Node   string
	Silent bool          // true: went silent; false: back
	For    time.Duration // how long it had been silent (at the check)
	Last   time.Time     // when it was last heard of
}

// Check returns the nodes that have been silent for longer than after and
// were not reported yet, and those reported silent that were heard of
// since. Each change is claimed with an exclusive file operation, so that
// of several replicas checking at once exactly one reports it.
//
// Silence is counted from since at the earliest: the watcher's start, so
// that a node heard of long ago (before faasmon-graph was deployed again,
// or before the tracers started) gets after to be heard again before it is
// reported, and one that stays silent is reported after that.
func (t Tracker) Check(now time.Time, after time.Duration, since time.Time) ([]Change, error) {
	ents, err := os.ReadDir(t.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("heartbeat: %w", err)
	}
	var out []Change
	for _, e := range ents {
		name := e.Name()
		if filepath.Ext(name) != ".seen" {
			continue
		}
		p := filepath.Join(t.Dir, name)
		fi, err := os.Stat(p)
		if err != nil {
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil || len(data) == 0 || len(data) > 253 {
			continue
		}
		node := string(data)
		mark := t.path(node, ".silent")
		last := fi.ModTime()
		silentFor := now.Sub(last)
		// watched is how long this watch has seen it silent.
		watched := min(silentFor, now.Sub(since))
		_, markErr := os.Stat(mark)
		marked := markErr == nil
		switch {
		case silentFor > Forget:
			// A node gone for good (drained, deleted): reported long ago,
			// collected now so the directory stays bounded.
			os.Remove(mark)
			os.Remove(p)
		case watched > after && !marked:
			f, err := os.OpenFile(mark, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
			if err != nil {
				continue // another replica reported it
			}
			// The mark keeps when the silence began, for the "back" note.
			f.WriteString(last.UTC().Format(time.RFC3339Nano))
			f.Close()
			out = append(out, Change{Node: node, Silent: true, For: silentFor, Last: last})
		case silentFor <= after && marked:
			b, err := os.ReadFile(mark)
			if err != nil {
				continue
			}
			if os.Remove(mark) != nil {
				continue // another replica reported it
			}
			c := Change{Node: node, Last: last}
			if began, err := time.Parse(time.RFC3339Nano, string(b)); err == nil {
				c.For = last.Sub(began)
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// Unmark forgets that node was reported silent, so that the next Check
// reports it again (its report could not be delivered).
func (t Tracker) Unmark(node string) { os.Remove(t.path(node, ".silent")) }
