package function

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"strconv"
	"sync"

	"github.com/faasmon/faasmon/pkg/alert"
	"github.com/faasmon/faasmon/pkg/fnhttp"
	"github.com/faasmon/faasmon/pkg/graph/provenance"
	"github.com/faasmon/faasmon/pkg/hopauth"
	"github.com/faasmon/faasmon/pkg/verdict"
)

const name = "faasmon-alert"

// Limits of a callback body (classify's answer, graph included), checked
// before it is decoded: bytes by fnhttp.ReadBody, and the nodes of the
// graph, explanation and findings by a scan that builds nothing
// (fnhttp.CheckArrays). Issue 14: a 32 MiB body of 1.2 M nodes took this
// function to 1,010 MB RSS under a 128 Mi limit while decoding. Over
// either is a 413.
const (
	maxBodyBytes = 16 << 20
	// maxNodes is the node cap of the flow (the builder's, and
	// classify's limit on a graph).
	maxNodes = provenance.MaxNodes
	// maxTotalNodes bounds all "nodes" arrays together (graph,
	// explanation, findings; a batch of verdicts).
	maxTotalNodes = 4 * maxNodes
	maxEdges      = provenance.MaxEdges
)

var (
	procOnce sync.Once
	proc     *alert.Processor
	procErr  error
	// stdout is where the stdout sink writes (os.Stdout when nil).
	stdout io.Writer
)

func processor() (*alert.Processor, error) {
	procOnce.Do(func() {
		cfg, err := alert.LoadConfig()
		if err != nil {
			procErr = err
			return
		}
		proc, procErr = alert.NewProcessor(cfg, stdout)
		if procErr == nil {
			// The outbox consumer lives as long as the process.
			proc.Start(context.Background())
		}
	})
	return proc, procErr
}

func init() {
	fnhttp.OnStart(func(context.Context) {
		if _, err := processor(); err != nil {
			log.Printf("%s: %v", name, err)
		}
	})
}

// Handle serves the function.
func Handle(w http.ResponseWriter, r *http.Request) {
	p, err := processor()
	if err != nil {
		fnhttp.Fail(w, name, &fnhttp.Error{Status: http.StatusServiceUnavailable, Err: err})
		return
	}
	if r.Method == http.MethodGet {
		fnhttp.Health(w, name, map[string]any{"stats": p.Stats.Snapshot(), "hop_auth": fnhttp.DefaultHop.Stats.Snapshot()})
		return
	}
	callID := r.Header.Get("X-Call-Id")
	if s := r.Header.Get("X-Function-Status"); s != "" {
		status, err := strconv.Atoi(s)
		if err != nil {
			fnhttp.Fail(w, name, fnhttp.BadRequest(fmt.Errorf("X-Function-Status %q", s)))
			return
		}
		if status < 200 || status > 299 {
			// The body is classify's error, not a verdict. It is not
			// authenticated (the watchdog or the queue-worker may have
			// written it) and nothing but a counter follows from it.
			p.Stats.ClassifyFailed.Add(1)
			log.Printf("%s: classify call %s failed with status %d", name, callID, status)
			fnhttp.JSON(w, http.StatusOK, map[string]string{"skipped": fmt.Sprintf("classify failed with status %d", status), "call_id": callID})
			return
		}
	}
	body, err := fnhttp.ReadBody(w, r, maxBodyBytes)
	if err != nil {
		fnhttp.Fail(w, name, err)
		return
	}
	// Only classify's signed answer is a verdict: the queue-worker copies
	// classify's response headers, MAC included, onto the callback.
	// Anyone can post to /function/faasmon-alert; an unsigned verdict (a
	// forgery, or the answer to a direct, unsigned call to classify) is
	// refused with 401, a forged or stale one with 403, and counted.
	if !fnhttp.DefaultHop.Authenticate(w, r, name, hopauth.KindVerdict, body) {
		return
	}
	if err := fnhttp.CheckArrays(body, "nodes", maxNodes, maxTotalNodes); err != nil {
		fnhttp.Fail(w, name, err)
		return
	}
	if err := fnhttp.CheckArrays(body, "edges", maxEdges, 2*maxEdges); err != nil {
		fnhttp.Fail(w, name, err)
		return
	}
	if trimmed := bytes.TrimSpace(body); len(trimmed) > 0 && trimmed[0] == '[' {
		batch(w, r, p, body)
		return
	}
	var v verdict.Verdict
	if err := json.Unmarshal(body, &v); err != nil {
		fnhttp.Fail(w, name, fnhttp.BadRequest(fmt.Errorf("decode verdict (call %s): %w", callID, err)))
		return
	}
	res, err := p.Process(r.Context(), v)
	if errors.Is(err, verdict.ErrInvalid) {
		fnhttp.Fail(w, name, fnhttp.BadRequest(err))
		return
	}
	if err != nil {
		fnhttp.Fail(w, name, err)
		return
	}
	fnhttp.JSON(w, http.StatusOK, res)
}

// batchItem is the answer for one verdict of a batch: an invalid verdict
// does not stop the others.
type batchItem struct {
	*alert.Result
	Error string `json:"error,omitempty"`
}

func batch(w http.ResponseWriter, r *http.Request, p *alert.Processor, body []byte) {
	var vs []verdict.Verdict
	if err := json.Unmarshal(body, &vs); err != nil {
		fnhttp.Fail(w, name, fnhttp.BadRequest(fmt.Errorf("decode verdicts: %w", err)))
		return
	}
	out := make([]batchItem, len(vs))
	for i, v := range vs {
		res, err := p.Process(r.Context(), v)
		if err != nil {
			out[i].Error = err.Error()
			continue
		}
		out[i].Result = &res
	}
	fnhttp.JSON(w, http.StatusOK, out)
}
