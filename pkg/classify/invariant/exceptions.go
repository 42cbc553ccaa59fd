package invariant

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Exception lets one function break one rule on the named paths: the
// reviewed, written-down way a user says that their function does this on
// purpose (a function that downloads its own rule files into its code
// directory breaks function-code-write by design), as a Falco rule's
// exceptions do. An exception names the function, the rule and the paths
// (shell patterns, matched against the path as seen and against its
// normalised label, "$FUNC/..."); it never silences a rule for a function
// as a whole, nor other paths.
type Exception struct {
	Function string   `yaml:"function"`
	Rule     string   `yaml:"rule"`
	Paths    []string `yaml:"paths"`
	// Reason is for the reviewer: why this is benign.
	Reason string `yaml:"reason"`
}

// Exceptions is the file faasmon-classify reads (invariant_exceptions).
type Exceptions struct {
	Exceptions []Exception `yaml:"exceptions"`
}

// Limits of an exceptions file from outside.
const (
	maxExceptionsFile = 1 << 20
	maxExceptions     = 1024
	maxPatterns       = 64
)

// ErrExceptions marks an exceptions file that is not acceptable.
var ErrExceptions = errors.New("invalid invariant exceptions")

// LoadExceptions reads and checks an exceptions file.
func LoadExceptions(file string) (*Exceptions, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("invariant exceptions: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxExceptionsFile+1))
	if err != nil {
		return nil, fmt.Errorf("invariant exceptions %s: %w", file, err)
	}
	x, err := ParseExceptions(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return x, nil
}

// ParseExceptions parses an exceptions document strictly: unknown fields,
// unknown rules, bad patterns and missing reasons are errors, because an
// exception silently misread is a blind spot.
func ParseExceptions(b []byte) (*Exceptions, error) {
	if len(b) > maxExceptionsFile {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrExceptions, maxExceptionsFile)
	}
	var x Exceptions
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&x); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: %v", ErrExceptions, err)
	}
	if len(x.Exceptions) > maxExceptions {
		return nil, fmt.Errorf("%w: %d exceptions, limit %d", ErrExceptions, len(x.Exceptions), maxExceptions)
	}
	for i, e := range x.Exceptions {
		switch {
		case e.Function == "" || strings.ContainsAny(e.Function, "/*?[ "):
			return nil, fmt.Errorf("%w: exception %d: function %q", ErrExceptions, i, e.Function)
		case !slices.ContainsFunc(Rules, func(r Rule) bool { return r.ID == e.Rule }):
			return nil, fmt.Errorf("%w: exception %d: no rule %q", ErrExceptions, i, e.Rule)
		case len(e.Paths) == 0 || len(e.Paths) > maxPatterns:
			return nil, fmt.Errorf("%w: exception %d: 1 to %d paths, got %d", ErrExceptions, i, maxPatterns, len(e.Paths))
		case strings.TrimSpace(e.Reason) == "":
			return nil, fmt.Errorf("%w: exception %d: a reason is required (it is what a reviewer reads)", ErrExceptions, i)
		}
		for _, p := range e.Paths {
			if _, err := path.Match(p, ""); err != nil || p == "" || p == "*" || p == "/*" {
				return nil, fmt.Errorf("%w: exception %d: path pattern %q (too broad or malformed)", ErrExceptions, i, p)
			}
		}
	}
	return &x, nil
}

// allows says whether fn may break rule on the path p (as seen) with the
// normalised label.
func (x *Exceptions) allows(fn, rule, p, label string) bool {
	if x == nil || (p == "" && label == "") {
		return false
	}
	for _, e := range x.Exceptions {
		if e.Function != fn || e.Rule != rule {
			continue
		}
		for _, pat := range e.Paths {
			if ok, _ := path.Match(pat, p); ok && p != "" {
				return true
			}
			if ok, _ := path.Match(pat, label); ok && label != "" {
				return true
			}
		}
	}
	return false
}
