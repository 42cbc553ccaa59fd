package function

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/faasmon/faasmon/pkg/graph/provenance"
	"github.com/faasmon/faasmon/pkg/invoke"
)

// pending is faasmon-graph's outbox: every finished graph is written here,
// in the same container-locked update that stores the state it came from
// and before that state, and removed only once faasmon-classify's queue
// took it. The state said before that a batch was applied whether or not
// its graphs got out, so a failed forward (gateway down, function killed
// between the two) lost them for good; now a graph is either still in the
// state's future (the batch was not stored, and a redelivery rebuilds it
// under the same id and file name) or here, until forwarded.
//
// A graph is forwarded at once by the call that made it; what that call
// could not forward (or a killed process left) is retried by sweep, which
// faasmon-graph runs in the background from its start. Several replicas
// share the directory: sweep claims a file by renaming it, so one sends it.
// Delivery is at least once: a process killed after the forward and
// before the removal sends it again (faasmon-alert's ledger and dedupe
// absorb the repeat).
type pending struct {
	Dir string
	// Max bounds the files waiting (outbox_max): past it, a batch that
	// finishes graphs is refused (503) rather than a graph dropped, so the
	// loss is a gap the next graph reports.
	Max int
	// Send forwards one graph; nil: nothing is sent (faasmon_next "").
	Send func(context.Context, *provenance.Graph) error
}

// sweepAge: a file younger than this belongs to the call that wrote it.
const sweepAge = 20 * time.Second

// claimAge: a claim older than this was left by a killed process.
const claimAge = 2 * time.Minute

var errOutboxFull = errors.New("graph outbox full")

func (p pending) path(id string) string { return filepath.Join(p.Dir, provenance.FileName(id)) }

// put writes graphs (0600, synced) before the state that produced them is
// stored.
func (p pending) put(graphs []provenance.Graph) error {
	if len(graphs) == 0 || p.Send == nil {
		return nil
	}
	if err := os.MkdirAll(p.Dir, 0o700); err != nil {
		return fmt.Errorf("graph outbox: %w", err)
	}
	if ents, err := os.ReadDir(p.Dir); err == nil && p.Max > 0 && len(ents)+len(graphs) > p.Max {
		return fmt.Errorf("%w: %d graphs wait to be forwarded (outbox_max %d)", errOutboxFull, len(ents), p.Max)
	}
	for i := range graphs {
		data, err := json.Marshal(&graphs[i])
		if err != nil {
			return fmt.Errorf("graph outbox: encode %s: %w", graphs[i].ID, err)
		}
		if err := writeSynced(p.path(graphs[i].ID), data); err != nil {
			return fmt.Errorf("graph outbox: %w", err)
		}
	}
	return nil
}

// writeSynced writes data to path atomically and durably: a temporary
// file, synced, renamed, and the directory synced.
func writeSynced(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
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
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// send forwards g, which the current call wrote, and removes its file. A
// failure leaves the file for sweep.
func (p pending) send(ctx context.Context, g *provenance.Graph) error {
	if p.Send == nil {
		return nil
	}
	if err := p.Send(ctx, g); err != nil && !refused(g, err) {
		return err
	}
	if err := os.Remove(p.path(g.ID)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		log.Printf("%s: graph outbox: %v", name, err)
	}
	return nil
}

// sweep forwards the graphs left behind, oldest first, and says how many
// it sent and how many still wait.
func (p pending) sweep(ctx context.Context, now time.Time) (sent, left int) {
	if p.Send == nil {
		return 0, 0
	}
	ents, err := os.ReadDir(p.Dir)
	if err != nil {
		return 0, 0
	}
	for _, e := range ents {
		if ctx.Err() != nil {
			break
		}
		n := e.Name()
		full := filepath.Join(p.Dir, n)
		info, err := e.Info()
		if err != nil {
			continue
		}
		switch {
		case strings.Contains(n, ".claim-"):
			// A claim its process never released: killed mid-send.
			if now.Sub(info.ModTime()) > claimAge {
				os.Rename(full, full[:strings.Index(full, ".claim-")])
			}
			left++
			continue
		case strings.HasSuffix(n, ".tmp"):
			if now.Sub(info.ModTime()) > claimAge {
				os.Remove(full)
			}
			continue
		case !strings.HasSuffix(n, ".json"):
			continue
		case now.Sub(info.ModTime()) < sweepAge:
			left++
			continue
		}
		claim := full + ".claim-" + token()
		if os.Rename(full, claim) != nil {
			continue // another replica has it
		}
		// The claim's age counts from now.
		os.Chtimes(claim, now, now)
		if err := p.sendFile(ctx, claim); err != nil {
			log.Printf("%s: graph outbox: %v (retried later)", name, err)
			os.Rename(claim, full)
			left++
			continue
		}
		sent++
	}
	return sent, left
}

func (p pending) sendFile(ctx context.Context, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var g provenance.Graph
	if err := json.Unmarshal(data, &g); err != nil {
		// Not ours to keep: a damaged file would block nothing but
		// itself, and would be retried for ever.
		log.Printf("%s: graph outbox: %s is not a graph (removed): %v", name, filepath.Base(path), err)
		os.Remove(path)
		return nil
	}
	if err := p.Send(ctx, &g); err != nil {
		if refused(&g, err) {
			os.Remove(path)
			return nil
		}
		return fmt.Errorf("forward %s: %w", g.ID, err)
	}
	os.Remove(path)
	return nil
}

// refused says whether the next stage refused a graph for good (a 4xx:
// too big for the queue, invalid): retrying it would only fill the outbox.
// It is logged as the loss it is.
// The container's next graph reports it as a blind spot.
func refused(g *provenance.Graph, err error) bool {
	var se *invoke.StatusError
	if !errors.As(err, &se) || !se.Permanent() {
		return false
	}
	log.Printf("%s: graph outbox: %s: %v: refused for good, dropped (a graph that gets no verdict)", name, g.ID, err)
	why := fmt.Sprintf("%s answered %d", se.Function, se.Status)
	if err := store.Update(provenance.GraphStateKey(g), func(st *provenance.State) (*provenance.State, error) {
		if st == nil {
			return nil, nil // the container is gone: the log is all there is
		}
		st.NoteRefusedGraph(g.ID, why)
		return st, nil
	}); err != nil {
		log.Printf("%s: graph outbox: note refused %s: %v", name, g.ID, err)
	}
	return true
}

func token() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// runSweep sweeps every interval until ctx ends.
func (p pending) runSweep(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if sent, left := p.sweep(ctx, time.Now()); sent > 0 {
			log.Printf("%s: graph outbox: forwarded %d graphs left behind, %d wait", name, sent, left)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
