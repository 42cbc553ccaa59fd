package envconf

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Renamed is l where each renamed variable is still read by the name it
// had: renamed maps a new name to its old one, and a new name that is unset
// reads the old (the new wins when both are set). It keeps a deployment
// that sets the old name working for one release after a rename.
func (l Lookup) Renamed(renamed map[string]string) Lookup {
	return func(k string) (string, bool) {
		if v, ok := l(k); ok {
			return v, true
		}
		if old, ok := renamed[k]; ok {
			return l(old)
		}
		return "", false
	}
}

// Getenv is l in os.Getenv's shape (unset is ""), for the packages that
// read the environment that way (streaming.URLFromEnv, hopauth).
func (l Lookup) Getenv() func(string) string {
	return func(k string) string { v, _ := l(k); return v }
}

// NonBlank returns key's value with surrounding spaces trimmed, unless it
// is unset or blank, else def: for names, URLs and paths, where a stray
// space or newline from a YAML file is never meant.
func (l Lookup) NonBlank(key, def string) string {
	v, _ := l(key)
	if v = strings.TrimSpace(v); v != "" {
		return v
	}
	return def
}

// Strict reads typed settings whose bad values are errors, not silently
// defaults: a function refuses to start on dedupe_window=soon rather than
// run with what its operator did not ask for. Every reader returns def for
// a blank value, and def (recording an error) for a bad one; Err joins the
// errors.
type Strict struct {
	Lookup Lookup
	errs   []error
}

func (s *Strict) fail(key, v, want string) {
	s.errs = append(s.errs, fmt.Errorf("%s=%q: want %s", key, v, want))
}

// Bool reads true/false (strconv.ParseBool's words).
func (s *Strict) Bool(key string, def bool) bool {
	v := s.Lookup.NonBlank(key, "")
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		s.fail(key, v, "true or false")
		return def
	}
	return b
}

// Duration reads a positive duration ("5s", "2m").
func (s *Strict) Duration(key string, def time.Duration) time.Duration {
	v := s.Lookup.NonBlank(key, "")
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		s.fail(key, v, "a positive duration")
		return def
	}
	return d
}

// PositiveInt reads an integer > 0.
func (s *Strict) PositiveInt(key string, def int) int {
	v := s.Lookup.NonBlank(key, "")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		s.fail(key, v, "a positive integer")
		return def
	}
	return n
}

// OneOf reads a value from a fixed set.
func (s *Strict) OneOf(key, def string, allowed ...string) string {
	v := s.Lookup.NonBlank(key, def)
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	s.fail(key, v, "one of "+strings.Join(allowed, ", "))
	return def
}

// Errorf records an error of a check the caller makes itself.
func (s *Strict) Errorf(format string, a ...any) {
	s.errs = append(s.errs, fmt.Errorf(format, a...))
}

// Err is every bad value read, joined; nil when all were good.
func (s *Strict) Err() error { return errors.Join(s.errs...) }
