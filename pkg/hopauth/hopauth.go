package hopauth

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// SecretName is the OpenFaaS secret that holds the hop keys.
const SecretName = "faasmon-hop-key"

// The authentication headers. They are X-Faasmon-* so that they travel
// wherever the chunk headers do, and are left out of the signed set.
const (
	HKeyID = "X-Faasmon-Auth-Key"
	HTime  = "X-Faasmon-Auth-Time"  // Unix time in milliseconds
	HNonce = "X-Faasmon-Auth-Nonce" // 16 random bytes, hex
	HMAC   = "X-Faasmon-Auth-Mac"   // HMAC-SHA256, hex
	// authPrefix marks the headers above; signedPrefix the headers that are
	// signed (all other X-Faasmon-* headers).
	authPrefix   = "X-Faasmon-Auth-"
	signedPrefix = "X-Faasmon-"
	// HCallback is signed too: it says where the queue posts the answer.
	HCallback = "X-Callback-Url"
)

// Kind says what a message is, so that a MAC made for one hop cannot be
// replayed on another (a graph posted to faasmon-alert as a verdict).
type Kind string

const (
	KindChunk   Kind = "chunk"   // tracer → faasmon-parse
	KindEvents  Kind = "events"  // faasmon-parse → faasmon-graph
	KindGraph   Kind = "graph"   // faasmon-graph → faasmon-classify
	KindVerdict Kind = "verdict" // faasmon-classify → faasmon-alert
)

// DefaultMaxAge is how far a message's timestamp may be from the
// receiver's clock, either way. It covers the time a message waits in the
// queue; a message older than this is refused as stale and counted.
const DefaultMaxAge = 5 * time.Minute

// Errors of Verify. ErrUnsigned maps to 401, the others to 403.
var (
	ErrUnsigned   = errors.New("message is not signed")
	ErrUnknownKey = errors.New("message is signed with an unknown key")
	ErrBadMAC     = errors.New("message MAC does not match")
	ErrStale      = errors.New("message timestamp outside the accepted window")
	ErrMalformed  = errors.New("malformed authentication headers")
	ErrNoKey      = errors.New("no hop key configured")
)

// minSecret is the shortest secret accepted: 128 bits as hex or text.
const minSecret = 16

// maxKeys bounds a keyring: the current key and a few old ones.
const maxKeys = 4

// Key is one named secret.
type Key struct {
	ID     string
	Secret []byte
}

// Keyring is an ordered set of keys: the first signs, all verify.
type Keyring struct {
	keys []Key
}

// ParseKeys reads a secret file: one "id:secret" line per key, current
// first; blank lines and lines starting with # are skipped. Ids are short
// names ([A-Za-z0-9._-], up to 64 bytes), secrets at least 16 bytes.
func ParseKeys(b []byte) (*Keyring, error) {
	kr := &Keyring{}
	seen := map[string]bool{}
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, secret, ok := strings.Cut(line, ":")
		id, secret = strings.TrimSpace(id), strings.TrimSpace(secret)
		switch {
		case !ok:
			return nil, fmt.Errorf("hop key line %d: want id:secret", i+1)
		case !validID(id):
			return nil, fmt.Errorf("hop key line %d: key id must be 1 to 64 of [A-Za-z0-9._-]", i+1)
		case len(secret) < minSecret:
			return nil, fmt.Errorf("hop key %q: secret shorter than %d bytes", id, minSecret)
		case seen[id]:
			return nil, fmt.Errorf("hop key %q listed twice", id)
		}
		seen[id] = true
		kr.keys = append(kr.keys, Key{ID: id, Secret: []byte(secret)})
	}
	if len(kr.keys) == 0 {
		return nil, fmt.Errorf("%w: the secret holds no id:secret line", ErrNoKey)
	}
	if len(kr.keys) > maxKeys {
		return nil, fmt.Errorf("hop key secret lists %d keys, at most %d", len(kr.keys), maxKeys)
	}
	return kr, nil
}

func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range []byte(id) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// NewKeyring builds a keyring from keys, current first.
func NewKeyring(keys ...Key) *Keyring { return &Keyring{keys: keys} }

// CurrentID is the id of the signing key.
func (k *Keyring) CurrentID() string { return k.keys[0].ID }

// Sign sets the authentication headers of a message of kind with body and
// the headers already in hdr (set every X-Faasmon-* header and
// X-Callback-Url before signing: they are covered).
func (k *Keyring) Sign(kind Kind, hdr http.Header, body []byte, now time.Time) error {
	if k == nil || len(k.keys) == 0 {
		return ErrNoKey
	}
	var nonce [16]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return fmt.Errorf("hop auth nonce: %w", err)
	}
	key := k.keys[0]
	hdr.Set(HKeyID, key.ID)
	hdr.Set(HTime, strconv.FormatInt(now.UnixMilli(), 10))
	hdr.Set(HNonce, hex.EncodeToString(nonce[:]))
	hdr.Del(HMAC)
	hdr.Set(HMAC, hex.EncodeToString(mac(key.Secret, kind, hdr, body)))
	return nil
}

// Signed reports whether hdr carries any authentication header: a message
// without one is unsigned (ErrUnsigned), one with some is checked in full.
func Signed(hdr http.Header) bool {
	for name := range hdr {
		if strings.HasPrefix(http.CanonicalHeaderKey(name), authPrefix) {
			return true
		}
	}
	return false
}

// Verify checks a message of kind: a MAC by one of the keyring's keys over
// body and hdr, and a timestamp within maxAge of now (DefaultMaxAge when
// 0). The MAC is compared in constant time.
func (k *Keyring) Verify(kind Kind, hdr http.Header, body []byte, now time.Time, maxAge time.Duration) error {
	if !Signed(hdr) {
		return ErrUnsigned
	}
	if k == nil || len(k.keys) == 0 {
		return ErrNoKey
	}
	if maxAge <= 0 {
		maxAge = DefaultMaxAge
	}
	id, ts, nonce, sum := hdr.Get(HKeyID), hdr.Get(HTime), hdr.Get(HNonce), hdr.Get(HMAC)
	if len(hdr.Values(HKeyID)) != 1 || len(hdr.Values(HTime)) != 1 || len(hdr.Values(HNonce)) != 1 || len(hdr.Values(HMAC)) != 1 {
		return fmt.Errorf("%w: want exactly one each of %s, %s, %s, %s", ErrMalformed, HKeyID, HTime, HNonce, HMAC)
	}
	got, err := hex.DecodeString(sum)
	if err != nil || len(got) != sha256.Size {
		return fmt.Errorf("%w: %s is not a hex SHA-256 MAC", ErrMalformed, HMAC)
	}
	if len(nonce) != 32 {
		return fmt.Errorf("%w: %s is not 16 bytes of hex", ErrMalformed, HNonce)
	}
	ms, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %s %q", ErrMalformed, HTime, ts)
	}
	var key *Key
	for i := range k.keys {
		if k.keys[i].ID == id {
			key = &k.keys[i]
			break
		}
	}
	if key == nil {
		return fmt.Errorf("%w %q", ErrUnknownKey, id)
	}
	// The MAC first: an attacker learns nothing about the clock or the
	// window from a forged message.
	if !hmac.Equal(got, mac(key.Secret, kind, hdr, body)) {
		return ErrBadMAC
	}
	if d := now.Sub(time.UnixMilli(ms)); d > maxAge || d < -maxAge {
		return fmt.Errorf("%w: signed %v ago, window ±%v", ErrStale, d.Round(time.Second), maxAge)
	}
	return nil
}

// mac is HMAC-SHA256 over the canonical form of a message: a version, its
// kind, the key id, timestamp and nonce, each signed header as
// "lower-case-name:values joined by ," in name order, and the body's
// SHA-256. The signed headers are those present, so a header added or
// removed on the way changes the MAC.
func mac(secret []byte, kind Kind, hdr http.Header, body []byte) []byte {
	var b bytes.Buffer
	b.WriteString("faasmon-hop-v1\n")
	b.WriteString(string(kind) + "\n")
	b.WriteString(hdr.Get(HKeyID) + "\n" + hdr.Get(HTime) + "\n" + hdr.Get(HNonce) + "\n")
	names := make([]string, 0, len(hdr))
	vals := map[string][]string{}
	for name, vs := range hdr {
		c := http.CanonicalHeaderKey(name)
		if c == HCallback || (strings.HasPrefix(c, signedPrefix) && !strings.HasPrefix(c, authPrefix)) {
			if _, ok := vals[c]; !ok {
				names = append(names, c)
			}
			vals[c] = append(vals[c], vs...)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		// Header values cannot hold a newline, so the lines cannot be
		// confused with one another.
		b.WriteString(strings.ToLower(n) + ":" + strings.Join(vals[n], ",") + "\n")
	}
	sum := sha256.Sum256(body)
	b.WriteString(hex.EncodeToString(sum[:]))
	m := hmac.New(sha256.New, secret)
	m.Write(b.Bytes())
	return m.Sum(nil)
}

// Source is a keyring read from a secret file, re-read when the file
// changes (Kubernetes updates a mounted secret in place on rotation), at
// most once per second.
type Source struct {
	Path string

	static *Keyring // set by Static

	mu      sync.Mutex
	kr      *Keyring
	err     error
	mod     time.Time
	size    int64
	checked time.Time
}

// FileSource reads the keys from path.
func FileSource(path string) *Source { return &Source{Path: path} }

// SourceFromEnv reads SecretName from the function's secret directory
// (secret_mount_path, default /var/openfaas/secrets), as OpenFaaS mounts it.
func SourceFromEnv(getenv func(string) string) *Source {
	dir := getenv("secret_mount_path")
	if dir == "" {
		dir = "/var/openfaas/secrets"
	}
	return FileSource(filepath.Join(dir, SecretName))
}

// Static is a Source of fixed keys (tests, tools that hold the key).
func Static(kr *Keyring) *Source { return &Source{static: kr} }

// Keyring returns the current keys, or why there are none.
func (s *Source) Keyring() (*Keyring, error) {
	if s.static != nil {
		return s.static, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if (s.kr != nil || s.err != nil) && now.Sub(s.checked) < time.Second {
		return s.kr, s.err
	}
	s.checked = now
	fi, err := os.Stat(s.Path)
	if err != nil {
		s.kr, s.err = nil, fmt.Errorf("%w: secret %s: %v", ErrNoKey, SecretName, err)
		return s.kr, s.err
	}
	if s.kr != nil && fi.ModTime().Equal(s.mod) && fi.Size() == s.size {
		return s.kr, nil
	}
	if fi.Size() > 64<<10 {
		s.kr, s.err = nil, fmt.Errorf("secret %s: %d bytes, not a key file", SecretName, fi.Size())
		return s.kr, s.err
	}
	b, err := os.ReadFile(s.Path)
	if err != nil {
		s.kr, s.err = nil, fmt.Errorf("%w: secret %s: %v", ErrNoKey, SecretName, err)
		return s.kr, s.err
	}
	kr, err := ParseKeys(b)
	if err != nil {
		s.kr, s.err = nil, fmt.Errorf("secret %s: %w", SecretName, err)
		return s.kr, s.err
	}
	s.kr, s.err, s.mod, s.size = kr, nil, fi.ModTime(), fi.Size()
	return kr, nil
}

// GenerateKey returns a fresh "id:secret" line: 32 random bytes as hex.
func GenerateKey(id string) (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate hop key: %w", err)
	}
	return id + ":" + hex.EncodeToString(b[:]), nil
}

// Stats counts what a receiver accepted and refused, by reason.
type Stats struct {
	Accepted         atomic.Uint64
	UnsignedAccepted atomic.Uint64 // unsigned requests served without forwarding (faasmon-classify's direct use)
	Unsigned         atomic.Uint64 // refused: no MAC (401)
	BadMAC           atomic.Uint64 // refused: MAC mismatch or malformed headers (403)
	UnknownKey       atomic.Uint64 // refused: key id not in the keyring (403)
	Stale            atomic.Uint64 // refused: timestamp outside the window (403)
	NoKey            atomic.Uint64 // refused: this function has no key (503)
}

// Count adds the outcome of one Verify.
func (s *Stats) Count(err error) {
	switch {
	case err == nil:
		s.Accepted.Add(1)
	case errors.Is(err, ErrUnsigned):
		s.Unsigned.Add(1)
	case errors.Is(err, ErrUnknownKey):
		s.UnknownKey.Add(1)
	case errors.Is(err, ErrStale):
		s.Stale.Add(1)
	case errors.Is(err, ErrNoKey):
		s.NoKey.Add(1)
	default:
		s.BadMAC.Add(1)
	}
}

// Snapshot is a plain copy of Stats for JSON.
type Snapshot struct {
	Accepted         uint64 `json:"accepted"`
	UnsignedAccepted uint64 `json:"unsigned_accepted,omitempty"`
	Unsigned         uint64 `json:"refused_unsigned"`
	BadMAC           uint64 `json:"refused_bad_mac"`
	UnknownKey       uint64 `json:"refused_unknown_key"`
	Stale            uint64 `json:"refused_stale"`
	NoKey            uint64 `json:"refused_no_key"`
}

// Snapshot copies the counters.
func (s *Stats) Snapshot() Snapshot {
	return Snapshot{s.Accepted.Load(), s.UnsignedAccepted.Load(), s.Unsigned.Load(), s.BadMAC.Load(),
		s.UnknownKey.Load(), s.Stale.Load(), s.NoKey.Load()}
}

// Status is the HTTP status that answers a Verify error: 401 for an
// unsigned message, 503 when the receiver has no key, 403 otherwise.
func Status(err error) int {
	switch {
	case errors.Is(err, ErrUnsigned):
		return http.StatusUnauthorized
	case errors.Is(err, ErrNoKey):
		return http.StatusServiceUnavailable
	default:
		return http.StatusForbidden
	}
}
