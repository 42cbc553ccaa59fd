package envconf

import (
	"strings"
	"testing"
	"time"
)

func TestRenamed(t *testing.T) {
	renamed := map[string]string{"dedupe_dir": "FAASMON_DEDUPE_DIR", "outbox": "FAASMON_OUTBOX"}
	for _, tc := range []struct {
		name   string
		env    map[string]string
		key    string
		want   string
		wantOK bool
	}{
		{"new", map[string]string{"dedupe_dir": "/a"}, "dedupe_dir", "/a", true},
		{"old when new unset", map[string]string{"FAASMON_DEDUPE_DIR": "/old"}, "dedupe_dir", "/old", true},
		{"new wins", map[string]string{"dedupe_dir": "/a", "FAASMON_DEDUPE_DIR": "/old"}, "dedupe_dir", "/a", true},
		{"new set empty wins", map[string]string{"outbox": "", "FAASMON_OUTBOX": "x"}, "outbox", "", true},
		{"neither", nil, "dedupe_dir", "", false},
		{"not renamed", map[string]string{"other": "v"}, "other", "v", true},
		{"the old name is not a new one", map[string]string{"FAASMON_DEDUPE_DIR": "/old"}, "FAASMON_DEDUPE_DIR", "/old", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, ok := Map(tc.env).Renamed(renamed)(tc.key)
			if v != tc.want || ok != tc.wantOK {
				t.Errorf("%q %v, want %q %v", v, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestNonBlankAndGetenv(t *testing.T) {
	env := Map(map[string]string{"sp": "  /x \n", "blank": " \t", "empty": ""})
	for _, tc := range []struct{ key, want string }{{"sp", "/x"}, {"blank", "d"}, {"empty", "d"}, {"unset", "d"}} {
		if got := env.NonBlank(tc.key, "d"); got != tc.want {
			t.Errorf("NonBlank(%s) = %q, want %q", tc.key, got, tc.want)
		}
	}
	if g := env.Getenv(); g("sp") != "  /x \n" || g("unset") != "" {
		t.Errorf("Getenv")
	}
}

func TestStrict(t *testing.T) {
	env := Map(map[string]string{"b": " false ", "bad_b": "yes please", "d": "30s", "neg_d": "-1s", "bad_d": "soon",
		"n": "12", "zero": "0", "bad_n": "many", "one": "off", "bad_one": "always", "blank": " "})
	s := &Strict{Lookup: env}
	for _, tc := range []struct {
		name      string
		got, want any
	}{
		{"Bool", s.Bool("b", true), false},
		{"Bool blank is the default", s.Bool("blank", true), true},
		{"Bool unset", s.Bool("unset", true), true},
		{"Duration", s.Duration("d", time.Second), 30 * time.Second},
		{"Duration unset", s.Duration("unset", time.Second), time.Second},
		{"PositiveInt", s.PositiveInt("n", 1), 12},
		{"OneOf", s.OneOf("one", "label", "label", "off"), "off"},
		{"OneOf unset", s.OneOf("unset", "label", "label", "off"), "label"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	if err := s.Err(); err != nil {
		t.Fatalf("good values: %v", err)
	}
	bad := []struct {
		name      string
		got, want any
	}{
		{"bad_b", s.Bool("bad_b", true), true},
		{"neg_d", s.Duration("neg_d", time.Second), time.Second},
		{"bad_d", s.Duration("bad_d", time.Second), time.Second},
		{"zero", s.PositiveInt("zero", 1), 1},
		{"bad_n", s.PositiveInt("bad_n", 1), 1},
		{"bad_one", s.OneOf("bad_one", "label", "label", "off"), "label"},
	}
	err := s.Err()
	for _, tc := range bad {
		if tc.got != tc.want {
			t.Errorf("%s: %v, want the default %v", tc.name, tc.got, tc.want)
		}
		if err == nil || !strings.Contains(err.Error(), tc.name+"=") {
			t.Errorf("error %v does not name %s", err, tc.name)
		}
	}
}
