package hopauth

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var (
	k1 = Key{ID: "k1", Secret: []byte("0123456789abcdef0123456789abcdef")}
	k2 = Key{ID: "k2", Secret: []byte("fedcba9876543210fedcba9876543210")}
)

func chunkHeader() http.Header {
	return http.Header{
		"X-Faasmon-Stream":    {"c0ffee/strace"},
		"X-Faasmon-Seq":       {"7"},
		"X-Faasmon-Container": {"c0ffee"},
		"Content-Type":        {"text/plain"},
	}
}

func TestVerify(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	body := []byte("1700000000.000001 openat(AT_FDCWD, \"/etc/passwd\", O_RDONLY) = 3\n")
	signed := func(kr *Keyring, at time.Time) http.Header {
		h := chunkHeader()
		if err := kr.Sign(KindChunk, h, body, at); err != nil {
			t.Fatal(err)
		}
		return h
	}
	old := NewKeyring(k1)          // before the rotation
	rotating := NewKeyring(k2, k1) // k2 signs, k1 still verifies
	rotated := NewKeyring(k2)      // k1 retired
	for _, tc := range []struct {
		name   string
		hdr    http.Header
		body   []byte
		kind   Kind
		kr     *Keyring
		want   error
		status int
	}{
		{"good", signed(old, now), body, KindChunk, old, nil, 200},
		{"unsigned", chunkHeader(), body, KindChunk, old, ErrUnsigned, 401},
		{"bad MAC: body altered", signed(old, now), append([]byte("x"), body...), KindChunk, old, ErrBadMAC, 403},
		{"bad MAC: chunk header altered", func() http.Header { h := signed(old, now); h.Set("X-Faasmon-Seq", "8"); return h }(), body, KindChunk, old, ErrBadMAC, 403},
		{"bad MAC: chunk header added", func() http.Header { h := signed(old, now); h.Set("X-Faasmon-Dropped", "0"); return h }(), body, KindChunk, old, ErrBadMAC, 403},
		{"bad MAC: chunk header removed", func() http.Header { h := signed(old, now); h.Del("X-Faasmon-Container"); return h }(), body, KindChunk, old, ErrBadMAC, 403},
		{"bad MAC: callback added", func() http.Header { h := signed(old, now); h.Set("X-Callback-Url", "http://evil/"); return h }(), body, KindChunk, old, ErrBadMAC, 403},
		{"bad MAC: other kind", signed(old, now), body, KindVerdict, old, ErrBadMAC, 403},
		{"bad MAC: wrong secret same id", signed(NewKeyring(Key{ID: "k1", Secret: k2.Secret}), now), body, KindChunk, old, ErrBadMAC, 403},
		{"bad MAC: timestamp moved", func() http.Header { h := signed(old, now.Add(-time.Hour)); h.Set(HTime, "1800000000000"); return h }(), body, KindChunk, old, ErrBadMAC, 403},
		{"malformed MAC", func() http.Header { h := signed(old, now); h.Set(HMAC, "zz"); return h }(), body, KindChunk, old, ErrMalformed, 403},
		{"two MACs", func() http.Header { h := signed(old, now); h.Add(HMAC, h.Get(HMAC)); return h }(), body, KindChunk, old, ErrMalformed, 403},
		{"stale: 6 min old", signed(old, now.Add(-6*time.Minute)), body, KindChunk, old, ErrStale, 403},
		{"stale: 6 min ahead", signed(old, now.Add(6*time.Minute)), body, KindChunk, old, ErrStale, 403},
		{"4 min old is in the window", signed(old, now.Add(-4*time.Minute)), body, KindChunk, old, nil, 200},
		{"rotation: old key still verifies", signed(old, now), body, KindChunk, rotating, nil, 200},
		{"rotation: new key verifies", signed(rotating, now), body, KindChunk, rotating, nil, 200},
		{"rotation: old key after retirement", signed(old, now), body, KindChunk, rotated, ErrUnknownKey, 403},
		{"receiver without key", signed(old, now), body, KindChunk, nil, ErrNoKey, 503},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.kr.Verify(tc.kind, tc.hdr, tc.body, now, 0)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
			if err != nil && Status(err) != tc.status {
				t.Errorf("Status = %d, want %d", Status(err), tc.status)
			}
		})
	}
}

func TestSignSetsCurrentKey(t *testing.T) {
	h := http.Header{}
	if err := NewKeyring(k2, k1).Sign(KindGraph, h, []byte("{}"), time.Now()); err != nil {
		t.Fatal(err)
	}
	if h.Get(HKeyID) != "k2" || len(h.Get(HMAC)) != 64 || len(h.Get(HNonce)) != 32 {
		t.Errorf("headers %v", h)
	}
	h2 := http.Header{}
	_ = NewKeyring(k2, k1).Sign(KindGraph, h2, []byte("{}"), time.Now())
	if h.Get(HNonce) == h2.Get(HNonce) {
		t.Error("two signatures share a nonce")
	}
	if err := (*Keyring)(nil).Sign(KindGraph, h, nil, time.Now()); !errors.Is(err, ErrNoKey) {
		t.Errorf("nil keyring Sign = %v", err)
	}
}

func TestParseKeys(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		ids      []string
		err      string
	}{
		{"one key", "k1:0123456789abcdef0123\n", []string{"k1"}, ""},
		{"current and previous", "# rotated 2026-12-01\nk2:0123456789abcdef0123\n\nk1:fedcba9876543210fedc\n", []string{"k2", "k1"}, ""},
		{"empty", "\n# nothing\n", nil, "no id:secret"},
		{"no id", "0123456789abcdef0123456789abcdef", nil, "want id:secret"},
		{"short secret", "k1:short", nil, "shorter than"},
		{"bad id", "k 1:0123456789abcdef0123", nil, "key id"},
		{"twice", "k1:0123456789abcdef0123\nk1:0123456789abcdef0124", nil, "twice"},
		{"too many", strings.Repeat("x", 0) + "a:0123456789abcdef0123\nb:0123456789abcdef0123\nc:0123456789abcdef0123\nd:0123456789abcdef0123\ne:0123456789abcdef0123", nil, "at most"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kr, err := ParseKeys([]byte(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, k := range kr.keys {
				ids = append(ids, k.ID)
			}
			if strings.Join(ids, ",") != strings.Join(tc.ids, ",") {
				t.Errorf("ids %v, want %v", ids, tc.ids)
			}
		})
	}
}

// TestSourceRotation rewrites the secret file as a rotation does and checks
// that the source follows it.
func TestSourceRotation(t *testing.T) {
	p := filepath.Join(t.TempDir(), SecretName)
	s := FileSource(p)
	if _, err := s.Keyring(); !errors.Is(err, ErrNoKey) {
		t.Fatalf("missing file: %v", err)
	}
	write := func(content string, mod time.Time) {
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		_ = os.Chtimes(p, mod, mod)
		s.mu.Lock()
		s.checked = time.Time{} // skip the once-a-second throttle
		s.mu.Unlock()
	}
	write("k1:"+string(k1.Secret)+"\n", time.Unix(1000, 0))
	kr, err := s.Keyring()
	if err != nil || kr.CurrentID() != "k1" {
		t.Fatalf("k1: %v %v", kr, err)
	}
	write("k2:"+string(k2.Secret)+"\nk1:"+string(k1.Secret)+"\n", time.Unix(2000, 0))
	if kr, err = s.Keyring(); err != nil || kr.CurrentID() != "k2" || len(kr.keys) != 2 {
		t.Fatalf("rotated: %v %v", kr, err)
	}
}

func TestEnvelope(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"graph_id":"g-1","verdict":"attack","labels":{"a":"<b>&"}}`)
	kr := NewKeyring(k1)
	sealed, err := kr.Seal(KindVerdict, body, now)
	if err != nil {
		t.Fatal(err)
	}
	if !IsEnvelope(sealed) || IsEnvelope(body) {
		t.Error("IsEnvelope")
	}
	got, err := kr.Open(KindVerdict, sealed, now.Add(time.Minute), 0)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(got), `"graph_id":"g-1"`) {
		t.Errorf("body %s", got)
	}
	for _, tc := range []struct {
		name string
		data []byte
		at   time.Time
		want error
	}{
		{"bare body", body, now, ErrUnsigned},
		{"altered", []byte(strings.Replace(string(sealed), "g-1", "g-2", 1)), now, ErrBadMAC},
		{"stale", sealed, now.Add(2 * time.Hour), ErrStale},
		{"extra field", []byte(strings.Replace(string(sealed), `"auth":{`, `"auth":{"X-Faasmon-Function":"x",`, 1)), now, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := kr.Open(KindVerdict, tc.data, tc.at, time.Hour); !errors.Is(err, tc.want) {
				t.Errorf("Open = %v, want %v", err, tc.want)
			}
		})
	}
}

func FuzzParseKeys(f *testing.F) {
	f.Add([]byte("k2:0123456789abcdef0123\nk1:fedcba9876543210fedc\n"))
	f.Add([]byte("#\n:\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		kr, err := ParseKeys(b)
		if err == nil && (len(kr.keys) == 0 || len(kr.keys) > maxKeys) {
			t.Fatalf("%d keys accepted", len(kr.keys))
		}
	})
}

// FuzzVerify: hostile authentication headers never panic and never pass.
func FuzzVerify(f *testing.F) {
	f.Add("k1", "1800000000000", "00112233445566778899aabbccddeeff", strings.Repeat("ab", 32), []byte("body"))
	f.Fuzz(func(t *testing.T, id, ts, nonce, mac string, body []byte) {
		h := http.Header{}
		h.Set(HKeyID, id)
		h.Set(HTime, ts)
		h.Set(HNonce, nonce)
		h.Set(HMAC, mac)
		if err := NewKeyring(k1).Verify(KindChunk, h, body, time.Unix(1_800_000_000, 0), 0); err == nil {
			t.Fatalf("forged headers accepted: %v", h)
		}
	})
}

// FuzzOpen: an outbox entry is whatever anyone on NATS published; none
// without the key opens, and none panics.
func FuzzOpen(f *testing.F) {
	kr := NewKeyring(k1)
	sealed, _ := kr.Seal(KindVerdict, []byte(`{"graph_id":"g"}`), time.Unix(1_800_000_000, 0))
	f.Add(sealed)
	f.Add([]byte(`{"auth":{},"body":{}}`))
	f.Add([]byte(`{"graph_id":"g"}`))
	other := NewKeyring(Key{ID: "k1", Secret: []byte("not-the-key-0123456789abcdef")})
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = kr.Open(KindVerdict, data, time.Unix(1_800_000_000, 0), time.Hour)
		// Nothing the fuzzer writes was sealed with other's secret.
		if _, err := other.Open(KindVerdict, data, time.Unix(1_800_000_000, 0), time.Hour); err == nil {
			t.Fatalf("forged entry opened: %q", data)
		}
	})
}
