package hoptest

import (
	"net/http"
	"time"

	"github.com/faasmon/faasmon/pkg/hopauth"
)

// Current and Retired are test keys: Keys signs with Current; Retired is
// what a sender that missed a rotation still holds.
var (
	Current = hopauth.Key{ID: "test-2", Secret: []byte("current-test-key-0123456789abcdef")}
	Retired = hopauth.Key{ID: "test-1", Secret: []byte("retired-test-key-0123456789abcdef")}
	Keys    = hopauth.NewKeyring(Current)
)

// Source is a hopauth.Source of Keys, for fnhttp.DefaultHop.Keys.
func Source() *hopauth.Source { return hopauth.Static(Keys) }

// Way is how a test message is (not) signed.
type Way string

const (
	Good     Way = "good"
	Unsigned Way = "unsigned"
	BadMAC   Way = "bad MAC"   // signed with a key of the right id and the wrong secret
	Stale    Way = "stale"     // signed ten minutes ago
	OldKey   Way = "old key"   // signed with the key retired by a rotation
	Altered  Way = "altered"   // signed, then a chunk header changed
	WrongFor Way = "other hop" // a good MAC for another kind of message
)

// All lists every Way but Good: each must be refused.
var All = []Way{Unsigned, BadMAC, Stale, OldKey, Altered, WrongFor}

// Status is what a receiver must answer for w.
func Status(w Way) int {
	switch w {
	case Good:
		return http.StatusOK
	case Unsigned:
		return http.StatusUnauthorized
	default:
		return http.StatusForbidden
	}
}

// Sign sets hdr's authentication headers the given way for a message of
// kind with body.
func Sign(hdr http.Header, kind hopauth.Kind, body []byte, w Way) {
	now := time.Now()
	kr := Keys
	switch w {
	case Unsigned:
		return
	case BadMAC:
		kr = hopauth.NewKeyring(hopauth.Key{ID: Current.ID, Secret: []byte("attacker-guess-0123456789abcdef")})
	case Stale:
		now = now.Add(-10 * time.Minute)
	case OldKey:
		kr = hopauth.NewKeyring(Retired)
	case WrongFor:
		if kind == hopauth.KindVerdict {
			kind = hopauth.KindGraph
		} else {
			kind = hopauth.KindVerdict
		}
	}
	if err := kr.Sign(kind, hdr, body, now); err != nil {
		panic(err)
	}
	if w == Altered {
		hdr.Set("X-Faasmon-Altered", "1")
	}
}
