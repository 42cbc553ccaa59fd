package envconf

import "testing"

func TestLookupRules(t *testing.T) {
	env := Map(map[string]string{"empty": "", "name": "x", "n": "7", "zero": "0", "neg": "-3", "bad": "7a", "space": " "})
	for _, tc := range []struct {
		name string
		got  any
		want any
	}{
		{"String set", env.String("name", "d"), "x"},
		{"String set empty is a choice", env.String("empty", "d"), ""},
		{"String unset", env.String("unset", "d"), "d"},
		{"NonEmpty set", env.NonEmpty("name", "d"), "x"},
		{"NonEmpty empty", env.NonEmpty("empty", "d"), "d"},
		{"NonEmpty unset", env.NonEmpty("unset", "d"), "d"},
		{"NonEmpty keeps spaces", env.NonEmpty("space", "d"), " "},
		{"Int", env.Int("n", 1), 7},
		{"Int zero", env.Int("zero", 1), 0},
		{"Int negative", env.Int("neg", 1), -3},
		{"Int bad", env.Int("bad", 1), 1},
		{"Int empty", env.Int("empty", 1), 1},
		{"Int unset", env.Int("unset", 1), 1},
		{"PositiveInt", env.PositiveInt("n", 1), 7},
		{"PositiveInt zero", env.PositiveInt("zero", 1), 1},
		{"PositiveInt negative", env.PositiveInt("neg", 1), 1},
		{"PositiveInt bad", env.PositiveInt("bad", 1), 1},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %#v, want %#v", tc.name, tc.got, tc.want)
		}
	}
}
