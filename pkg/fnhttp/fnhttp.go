package fnhttp

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
)

// Error is an error with the HTTP status it should be answered with.
type Error struct {
	Status int
	Err    error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// BadRequest wraps err as a 400.
func BadRequest(err error) error { return &Error{Status: http.StatusBadRequest, Err: err} }

// ReadBody reads at most limit bytes of r's body; a larger body is a 413,
// an empty one a 400.
func ReadBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.Method != http.MethodPost && r.Method != http.MethodPut {
		return nil, &Error{Status: http.StatusMethodNotAllowed, Err: fmt.Errorf("method %s: POST a body", r.Method)}
	}
	// A declared length over the limit is refused before a byte is read;
	// a known length is read into one buffer of that size instead of
	// io.ReadAll's doubling (which allocates about twice the body).
	if r.ContentLength > limit {
		return nil, &Error{Status: http.StatusRequestEntityTooLarge, Err: fmt.Errorf("body over %d bytes (%d declared)", limit, r.ContentLength)}
	}
	var body []byte
	var err error
	mr := http.MaxBytesReader(w, r.Body, limit)
	if r.ContentLength > 0 {
		body = make([]byte, r.ContentLength)
		var n int
		n, err = io.ReadFull(mr, body)
		body = body[:n]
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = fmt.Errorf("body shorter than its Content-Length %d: %w", r.ContentLength, err)
		}
	} else {
		body, err = io.ReadAll(mr)
	}
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return nil, &Error{Status: http.StatusRequestEntityTooLarge, Err: fmt.Errorf("body over %d bytes", limit)}
	case err != nil:
		return nil, BadRequest(fmt.Errorf("read body: %w", err))
	case len(body) == 0:
		return nil, BadRequest(errors.New("empty body"))
	}
	return body, nil
}

// JSON answers v with status.
func JSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		log.Printf("write answer: %v", err)
	}
}

// Fail answers err: its own status when it carries one, 500 otherwise.
// 5xx errors are logged, since only the operator can act on them.
func Fail(w http.ResponseWriter, fn string, err error) {
	status := http.StatusInternalServerError
	var fe *Error
	if errors.As(err, &fe) {
		status = fe.Status
	}
	if status >= 500 {
		log.Printf("%s: %v", fn, err)
	}
	JSON(w, status, map[string]string{"error": fmt.Sprintf("%s: %v", fn, err)})
}

// Health answers GET with the function's name and status, the probe every
// function serves.
func Health(w http.ResponseWriter, fn string, extra map[string]any) {
	v := map[string]any{"function": fn, "status": "ok"}
	for k, x := range extra {
		v[k] = x
	}
	JSON(w, http.StatusOK, v)
}
