package profile

import (
	"strings"
	"testing"
	"time"
)

func TestConfigFromEnv(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want Config
		err  string
	}{
		{env: nil, want: Config{}},
		{env: map[string]string{EnvLearnGraphs: "50", EnvLearnFor: "30m", EnvMinGraphs: "10", EnvMaxMissing: "0.005", EnvMaxValues: "256"},
			want: Config{LearnGraphs: 50, LearnFor: 30 * time.Minute, MinGraphs: 10, MaxMissing: 0.005, MaxValues: 256}},
		{env: map[string]string{EnvLearnGraphs: "-1"}, want: Config{LearnGraphs: -1}},
		{env: map[string]string{EnvLearnGraphs: "many"}, err: "profile_learn_graphs"},
		{env: map[string]string{EnvLearnFor: "1 day"}, err: "profile_learn_for"},
		{env: map[string]string{EnvMaxMissing: "1.5"}, err: "max missing mass"},
		{env: map[string]string{EnvMaxValues: "1000000"}, err: "max values"},
	} {
		got, err := ConfigFromEnv(func(k string) string { return tc.env[k] })
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%v: error %v, want %q", tc.env, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%v: %+v, %v; want %+v", tc.env, got, err, tc.want)
		}
	}
}
