package fnhttp

import (
	"testing"
	"time"

	"github.com/faasmon/faasmon/pkg/hopauth"
)

func TestMaxAgeFromEnv(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", hopauth.DefaultMaxAge},
		{"15m", 15 * time.Minute},
		{"soon", hopauth.DefaultMaxAge},
		{"-1m", hopauth.DefaultMaxAge},
	} {
		if got := maxAgeFromEnv(tc.in); got != tc.want {
			t.Errorf("maxAgeFromEnv(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
