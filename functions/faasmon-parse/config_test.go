package function

import (
	"testing"

	"github.com/faasmon/faasmon/pkg/envconf"
)

func TestLoadConfig(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want config
	}{
		{nil, config{Next: "faasmon-graph"}},
		{map[string]string{"faasmon_next": "other"}, config{Next: "other"}},
		{map[string]string{"faasmon_next": ""}, config{}}, // set empty: answer instead of forwarding
		{map[string]string{"forward": "async"}, config{Next: "faasmon-graph", Async: true}},
		{map[string]string{"forward": "sync"}, config{Next: "faasmon-graph"}},
	} {
		if got := loadConfig(envconf.Map(tc.env)); got != tc.want {
			t.Errorf("env %v: %+v, want %+v", tc.env, got, tc.want)
		}
	}
}
