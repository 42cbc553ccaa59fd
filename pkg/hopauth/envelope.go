package hopauth

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Envelope carries a signed JSON body where headers do not travel: an
// outbox entry on NATS Streaming, which anyone on the queue's network can
// publish to.
type Envelope struct {
	Auth map[string]string `json:"auth"`
	Body json.RawMessage   `json:"body"`
}

// Seal wraps body (JSON) in a signed Envelope.
func (k *Keyring) Seal(kind Kind, body []byte, now time.Time) ([]byte, error) {
	// Sign the bytes exactly as they will stand in the envelope: encoding
	// a RawMessage compacts it (and escapes HTML), so do that first.
	raw, err := json.Marshal(json.RawMessage(body))
	if err != nil {
		return nil, fmt.Errorf("seal %s: body is not JSON: %w", kind, err)
	}
	hdr := http.Header{}
	if err := k.Sign(kind, hdr, raw, now); err != nil {
		return nil, err
	}
	env := Envelope{Auth: map[string]string{}, Body: raw}
	for name := range hdr {
		env.Auth[name] = hdr.Get(name)
	}
	return json.Marshal(env)
}

// IsEnvelope reports whether data looks like a sealed envelope (an object
// with "auth" and "body"), so that a reader can tell a legacy bare body.
func IsEnvelope(data []byte) bool {
	var probe struct {
		Auth map[string]string `json:"auth"`
		Body json.RawMessage   `json:"body"`
	}
	return json.Unmarshal(data, &probe) == nil && probe.Auth != nil && len(probe.Body) > 0
}

// Open verifies a sealed Envelope and returns its body. A bare body, or an
// envelope without authentication fields, is ErrUnsigned.
func (k *Keyring) Open(kind Kind, data []byte, now time.Time, maxAge time.Duration) ([]byte, error) {
	var env Envelope
	if err := json.Unmarshal(data, &env); err != nil || env.Auth == nil {
		return nil, ErrUnsigned
	}
	hdr := http.Header{}
	for name, v := range env.Auth {
		// Only the authentication fields: nothing else is signed here.
		if !strings.HasPrefix(http.CanonicalHeaderKey(name), authPrefix) {
			return nil, fmt.Errorf("%w: envelope field %q", ErrMalformed, name)
		}
		hdr.Set(name, v)
	}
	if err := k.Verify(kind, hdr, env.Body, now, maxAge); err != nil {
		return nil, err
	}
	return env.Body, nil
}
