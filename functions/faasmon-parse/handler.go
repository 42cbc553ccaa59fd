package function

import (
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"sync"

	"github.com/faasmon/faasmon/pkg/chunk"
	"github.com/faasmon/faasmon/pkg/envconf"
	"github.com/faasmon/faasmon/pkg/event"
	"github.com/faasmon/faasmon/pkg/fnhttp"
	"github.com/faasmon/faasmon/pkg/heartbeat"
	"github.com/faasmon/faasmon/pkg/hopauth"
	"github.com/faasmon/faasmon/pkg/invoke"
	"github.com/faasmon/faasmon/pkg/parse/ingest"
)

const name = "faasmon-parse"

// config is faasmon-parse's whole configuration (stack.yml's environment).
type config struct {
	// Next is the stage that gets the events; empty (faasmon_next set to
	// "") answers them instead (useful for looking at what a chunk holds).
	Next string
	// Async (forward: "async") queues the events for Next and answers at
	// once, as before. The default ("sync") calls Next and answers only
	// once Next has stored them, so that a failure anywhere on the way —
	// this function or faasmon-graph killed mid-batch, the gateway down —
	// is an error the caller sees and retries (the tracer's bounded queue
	// is the outbox): CE's queue-worker acknowledges whatever a function
	// answers, so a queued batch that faasmon-graph failed on was lost.
	Async bool
}

func loadConfig(env envconf.Lookup) config {
	return config{Next: env.String("faasmon_next", "faasmon-graph"), Async: env.String("forward", "sync") == "async"}
}

var (
	cfg        = loadConfig(os.LookupEnv)
	next       = cfg.Next
	async      = cfg.Async
	clientOnce sync.Once
	client     *invoke.Client
	clientErr  error
)

// Handle serves the function.
func Handle(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		fnhttp.Health(w, name, map[string]any{"next": next, "hop_auth": fnhttp.DefaultHop.Stats.Snapshot()})
		return
	}
	body, err := fnhttp.ReadBody(w, r, chunk.MaxBytes)
	if err != nil {
		fnhttp.Fail(w, name, err)
		return
	}
	// Only a tracer holding the hop key can feed the pipeline: anyone on
	// the network can queue a request for faasmon-parse.
	if !fnhttp.DefaultHop.Authenticate(w, r, name, hopauth.KindChunk, body) {
		return
	}
	h, err := chunk.Parse(r.Header)
	if err != nil {
		fnhttp.Fail(w, name, fnhttp.BadRequest(err))
		return
	}
	var batch event.Batch
	if h.Kind == heartbeat.Kind {
		// Nothing to parse: faasmon-graph only notes the node as heard of
		// (its silence watch).
		batch = event.Batch{Version: event.SchemaVersion, Chunk: h}
	} else {
		batch, err = ingest.Chunk(h, body)
	}
	if errors.Is(err, ingest.ErrInput) {
		fnhttp.Fail(w, name, &fnhttp.Error{Status: http.StatusUnprocessableEntity, Err: err})
		return
	}
	if err != nil {
		fnhttp.Fail(w, name, err)
		return
	}
	if next == "" || r.URL.Query().Get("forward") == "false" {
		fnhttp.JSON(w, http.StatusOK, batch)
		return
	}
	// The batch travels as event lines (event.AppendBatch, one line per
	// event as the eBPF sensor writes them), not one encoding/json
	// document: encoding/json's encoding was half of this function's CPU
	// per chunk (issue 15, BENCHMARKS.md "What the detector costs").
	// faasmon-graph reads the form the Content-Type names. The eBPF lines
	// of a chunk give a batch about the chunk's size: start there.
	data, err := event.AppendBatch(make([]byte, 0, len(body)+len(body)/4+512), &batch)
	if err != nil {
		fnhttp.Fail(w, name, err)
		return
	}
	if len(data) > chunk.MaxBytes {
		// The queue would refuse it on the way to faasmon-graph; a 502
		// would make the tracer retry it for ever. Refuse it here, loudly:
		// the tracer counts a 4xx as a rejected chunk (its strace chunks
		// are bounded in lines so that this does not happen, see
		// sensor.StraceChunkLines).
		err := fmt.Errorf("event batch of %d bytes (%d events) is over the queue's %d: chunk %s/%d not forwarded", len(data), len(batch.Events), chunk.MaxBytes, h.Stream, h.Seq)
		log.Printf("%s: %v", name, err)
		fnhttp.Fail(w, name, &fnhttp.Error{Status: http.StatusUnprocessableEntity, Err: err})
		return
	}
	clientOnce.Do(func() { client, clientErr = invoke.FromEnv() })
	if clientErr != nil {
		fnhttp.Fail(w, name, clientErr)
		return
	}
	hdr := http.Header{"Content-Type": {event.BatchContentType}}
	h.Set(hdr)
	if !async {
		forwardSync(w, r, h, batch, data, hdr)
		return
	}
	callID, err := client.Async(r.Context(), next, hopauth.KindEvents, nil, data, hdr)
	if err != nil {
		fnhttp.Fail(w, name, &fnhttp.Error{Status: http.StatusBadGateway, Err: err})
		return
	}
	fnhttp.JSON(w, http.StatusAccepted, map[string]any{
		"stream": h.Stream, "seq": h.Seq, "events": len(batch.Events),
		"unparsed": batch.Unparsed, "next": next, "next_call_id": callID,
	})
}

// forwardSync calls Next with the batch and answers with what it answered:
// 200 once Next has it, 502 when Next (or the way to it) failed, for the
// caller to retry; 422 when Next refused the batch itself (retrying the
// same bytes cannot help, and the tracer counts a 4xx as rejected).
func forwardSync(w http.ResponseWriter, r *http.Request, h chunk.Header, batch event.Batch, data []byte, hdr http.Header) {
	answer, err := client.Sync(r.Context(), next, hopauth.KindEvents, nil, data, hdr)
	var se *invoke.StatusError
	switch {
	case errors.As(err, &se) && se.Permanent():
		log.Printf("%s: %s refused chunk %s/%d: %v", name, next, h.Stream, h.Seq, err)
		fnhttp.Fail(w, name, &fnhttp.Error{Status: http.StatusUnprocessableEntity, Err: err})
		return
	case err != nil:
		fnhttp.Fail(w, name, &fnhttp.Error{Status: http.StatusBadGateway, Err: err})
		return
	}
	var nextAnswer any = string(answer)
	if json.Valid(answer) {
		nextAnswer = json.RawMessage(answer)
	}
	fnhttp.JSON(w, http.StatusOK, map[string]any{
		"stream": h.Stream, "seq": h.Seq, "events": len(batch.Events),
		"unparsed": batch.Unparsed, "next": next, "next_answer": nextAnswer,
	})
}
