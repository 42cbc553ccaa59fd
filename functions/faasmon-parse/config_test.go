package function

import (
	"testing"

	"github.com/faasmon/faasmon/pkg/envconf"
)

func TestLoadConfig(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{nil, "faasmon-graph"},
		{map[string]string{"faasmon_next": "other"}, "other"},
		{map[string]string{"faasmon_next": ""}, ""}, // set empty: answer instead of forwarding
	} {
		if got := loadConfig(envconf.Map(tc.env)).Next; got != tc.want {
			t.Errorf("env %v: Next %q, want %q", tc.env, got, tc.want)
		}
	}
}
