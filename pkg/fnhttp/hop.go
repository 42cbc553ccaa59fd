package fnhttp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/faasmon/faasmon/pkg/hopauth"
)

// Hop is how a detector function authenticates the stage before it
// (pkg/hopauth): its keys, the accepted clock window and its counters, which
// every function reports in its GET health answer ("hop_auth").
type Hop struct {
	Keys   *hopauth.Source
	MaxAge time.Duration // hopauth.DefaultMaxAge when 0
	Stats  hopauth.Stats
	Now    func() time.Time
	logged atomic.Uint64
}

// DefaultHop reads the keys from the function's secret directory
// (secret_mount_path), as OpenFaaS mounts faasmon-hop-key, and the window
// from hop_max_age (a Go duration; default hopauth.DefaultMaxAge). The
// window must cover the longest time a message waits in the queue: a
// message older than it is refused as stale.
var DefaultHop = &Hop{Keys: hopauth.SourceFromEnv(os.Getenv), MaxAge: maxAgeFromEnv(os.Getenv("hop_max_age"))}

func maxAgeFromEnv(v string) time.Duration {
	if v == "" {
		return hopauth.DefaultMaxAge
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		log.Printf("hop_max_age %q: not a positive duration, using %v", v, hopauth.DefaultMaxAge)
		return hopauth.DefaultMaxAge
	}
	return d
}

func (h *Hop) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// Check verifies the request's MAC over body as a message of kind and
// counts the outcome; the error answers with hopauth.Status.
func (h *Hop) Check(r *http.Request, kind hopauth.Kind, body []byte) error {
	var err error
	kr, kerr := h.Keys.Keyring()
	if !hopauth.Signed(r.Header) {
		err = hopauth.ErrUnsigned
	} else if kerr != nil {
		err = kerr
	} else {
		err = kr.Verify(kind, r.Header, body, h.now(), h.MaxAge)
	}
	h.Stats.Count(err)
	if err != nil {
		// The first refusal and every 100th after it: a flood of forged
		// requests must not flood the log; the counters have them all.
		if n := h.logged.Add(1); n == 1 || n%100 == 0 {
			log.Printf("hop auth: refused %s from %s (%d refused so far): %v", kind, r.RemoteAddr, n, err)
		}
		return &Error{Status: hopauth.Status(err), Err: fmt.Errorf("hop authentication: %w", err)}
	}
	return nil
}

// Authenticate checks the request (see Check); on failure it answers it
// (401 unsigned, 403 forged, altered, stale or unknown key, 503 no key of
// its own) and returns false. Every handler calls it first thing after
// reading the body.
func (h *Hop) Authenticate(w http.ResponseWriter, r *http.Request, fn string, kind hopauth.Kind, body []byte) bool {
	if err := h.Check(r, kind, body); err != nil {
		Fail(w, fn, err)
		return false
	}
	return true
}

// SignedJSON answers v with status, with a MAC of kind over the exact body
// in the response headers: the OpenFaaS queue-worker copies a function's
// response headers onto its callback request, so the next stage can verify
// what the callback brings.
func (h *Hop) SignedJSON(w http.ResponseWriter, status int, kind hopauth.Kind, v any) error {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		return fmt.Errorf("encode answer: %w", err)
	}
	kr, err := h.Keys.Keyring()
	if err != nil {
		return err
	}
	if err := kr.Sign(kind, w.Header(), buf.Bytes(), h.now()); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if _, err := w.Write(buf.Bytes()); err != nil {
		log.Printf("write answer: %v", err)
	}
	return nil
}
