package function

import (
	"reflect"
	"testing"
	"time"

	"github.com/faasmon/faasmon/pkg/envconf"
)

func TestLoadConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want config
	}{
		{"defaults", nil, config{StateDir: "/tmp/faasmon-graph-state", ArchiveMax: 200000, Next: "faasmon-classify", StateMaxBytes: 64 << 20, StateKeep: 72 * time.Hour, OutboxMax: 10000, SilenceAfter: time.Minute, Alert: "faasmon-alert"}},
		{"set", map[string]string{
			"state_dir": "/s", "archive_dir": "/a", "archive_max": "5", "faasmon_next": "n",
			"faasmon_callback": "http://cb", "func_dirs": " /x, ,/y ",
			"state_max_bytes": "1000", "state_keep_hours": "2", "outbox_max": "7", "silence_after_seconds": "90", "faasmon_alert": "",
		}, config{StateDir: "/s", ArchiveDir: "/a", ArchiveMax: 5, Next: "n", Callback: "http://cb", FuncDirs: []string{"/x", "/y"},
			StateMaxBytes: 1000, StateKeep: 2 * time.Hour, OutboxMax: 7, SilenceAfter: 90 * time.Second}},
		// An empty faasmon_next turns forwarding off; a bad archive_max
		// keeps the default.
		{"empty next, bad max", map[string]string{"faasmon_next": "", "archive_max": "-1"},
			config{StateDir: "/tmp/faasmon-graph-state", ArchiveMax: 200000, StateMaxBytes: 64 << 20, StateKeep: 72 * time.Hour, OutboxMax: 10000, SilenceAfter: time.Minute, Alert: "faasmon-alert"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := loadConfig(envconf.Map(tc.env)); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
