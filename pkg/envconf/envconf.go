package envconf

import (
	"strconv"
)

// Lookup finds a variable and says whether it is set: os.LookupEnv in a
// binary, Map(...) in a test. A function or command reads its whole
// configuration through one Lookup into one struct (see alert.Config and
// LoadConfigLookup), so a test can give it any environment without touching
// the process's.
type Lookup func(key string) (string, bool)

// Map is a Lookup over m.
func Map(m map[string]string) Lookup {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// String returns key's value when it is set, even to "", else def. An empty
// value is then a choice: faasmon_next="" turns a function's forwarding off.
func (l Lookup) String(key, def string) string {
	if v, ok := l(key); ok {
		return v
	}
	return def
}

// NonEmpty returns key's value unless it is unset or empty, else def: for
// settings where empty means nothing (a flag's default from the
// environment).
func (l Lookup) NonEmpty(key, def string) string {
	if v, _ := l(key); v != "" {
		return v
	}
	return def
}

// Int returns key's value when it is an integer, else def (unset, empty
// and unparsable alike).
func (l Lookup) Int(key string, def int) int {
	v, _ := l(key)
	if n, err := strconv.Atoi(v); err == nil {
		return n
	}
	return def
}

// PositiveInt is Int for settings that must be above zero: zero and
// negative values give def too.
func (l Lookup) PositiveInt(key string, def int) int {
	if n := l.Int(key, def); n > 0 {
		return n
	}
	return def
}
