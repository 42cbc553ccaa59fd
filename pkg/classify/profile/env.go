package profile

import (
	"fmt"
	"strconv"
	"time"
)

// Environment variables ConfigFromEnv reads: the names a function's
// stack.yml sets (OpenFaaS passes environment to the handler), as
// faasmon-graph reads state_dir.
const (
	EnvDir         = "profile_dir"          // FileStore directory
	EnvLearnGraphs = "profile_learn_graphs" // Config.LearnGraphs
	EnvLearnFor    = "profile_learn_for"    // Config.LearnFor, a Go duration ("24h")
	EnvMinGraphs   = "profile_min_graphs"   // Config.MinGraphs
	EnvMaxMissing  = "profile_max_missing"  // Config.MaxMissing, a fraction ("0.01")
	EnvMaxValues   = "profile_max_values"   // Config.MaxValues
)

// ConfigFromEnv reads a Config from the environment (getenv is os.Getenv
// in a function); unset variables keep the defaults, a malformed one is an
// error naming it.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	var c Config
	ints := []struct {
		name string
		dst  *int
	}{{EnvLearnGraphs, &c.LearnGraphs}, {EnvMinGraphs, &c.MinGraphs}, {EnvMaxValues, &c.MaxValues}}
	for _, v := range ints {
		if s := getenv(v.name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil {
				return c, fmt.Errorf("%s=%q: %w", v.name, s, err)
			}
			*v.dst = n
		}
	}
	if s := getenv(EnvLearnFor); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			return c, fmt.Errorf("%s=%q: %w", EnvLearnFor, s, err)
		}
		c.LearnFor = d
	}
	if s := getenv(EnvMaxMissing); s != "" {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return c, fmt.Errorf("%s=%q: %w", EnvMaxMissing, s, err)
		}
		c.MaxMissing = f
	}
	if err := c.Validate(); err != nil {
		return c, err
	}
	return c, nil
}
