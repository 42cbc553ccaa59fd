package alert

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/faasmon/faasmon/pkg/envconf"
	"github.com/faasmon/faasmon/pkg/outbox"
	"github.com/faasmon/faasmon/pkg/streaming"
)

// Secret names (files in the OpenFaaS secrets directory,
// /var/openfaas/secrets/<name>). A sink whose URL secret is absent is off.
const (
	SecretWebhookURL       = "faasmon-webhook-url"       // generic JSON webhook
	SecretWebhookToken     = "faasmon-webhook-token"     // optional: Authorization: Bearer <token>
	SecretSlackURL         = "faasmon-slack-webhook-url" // Slack incoming webhook
	SecretFalcosidekickURL = "faasmon-falcosidekick-url" // e.g. http://falcosidekick.falco:2801/
)

// Environment variables, with their defaults: snake_case, as of-watchdog's
// own (read_timeout, exec_timeout) and the other stages' (state_dir,
// faasmon_next). Each was FAASMON_UPPER_CASE until this release; LegacyEnv
// maps it to that name, which is still read when the new one is unset.
// TODO(next release): drop LegacyEnv.
const (
	EnvSecretsDir     = "secrets_dir"          // /var/openfaas/secrets
	EnvStdout         = "alert_stdout"         // true: alerts as JSON lines on stdout
	EnvNATS           = "alert_nats"           // true: publish on the NATS Streaming channel
	EnvNATSURL        = streaming.EnvURL       // nats://<faas_nats_address>:<faas_nats_port>
	EnvNATSCluster    = streaming.EnvCluster   // faas-cluster
	EnvOutbox         = outbox.EnvChannel      // faasmon-outbox; set and empty: no outbox consumer
	EnvOutboxGrace    = "outbox_grace"         // 5s: the callback's head start
	EnvNATSChannel    = "alert_channel"        // faasmon-alerts
	EnvVerdictChannel = "verdict_channel"      // faasmon-verdicts; set and empty: no verdict log
	EnvDedupeWindow   = "dedupe_window"        // 5m
	EnvDedupeDir      = "dedupe_dir"           // /tmp/faasmon-dedupe; "memory": in process
	EnvDedupeMax      = "dedupe_max"           // 10000 keys
	EnvSinkAttempts   = "sink_attempts"        // 4
	EnvSinkBackoff    = "sink_backoff"         // 200ms (doubling, capped at 2s)
	EnvSinkAttemptTTL = "sink_attempt_timeout" // 3s
	EnvSinkTimeout    = "sink_timeout"         // 10s per sink and alert
	EnvResponse       = "response"             // "label" (per function, by label) or "off"
	EnvResponder      = "responder"            // auto | kubernetes | localstack | none
	EnvResponseNS     = "function_namespace"   // openfaas-fn
	EnvGracePeriod    = "recycle_grace"        // pod delete grace period; empty: the pod's own
	EnvLocalStackURL  = "localstack_url"       // http://127.0.0.1:8083
	EnvPriority       = "alert_priority"       // Critical: of alerts whose findings carry no severity
	EnvHostname       = "alert_hostname"       // Falco "hostname"; empty: the alert's node, else os.Hostname()
)

// LegacyEnv maps each renamed variable to its name before this release.
var LegacyEnv = map[string]string{
	EnvSecretsDir:     "FAASMON_SECRETS_DIR",
	EnvStdout:         "FAASMON_STDOUT",
	EnvNATS:           "FAASMON_NATS",
	EnvOutbox:         outbox.LegacyEnvChannel,
	EnvOutboxGrace:    "FAASMON_OUTBOX_GRACE",
	EnvNATSChannel:    "FAASMON_ALERT_CHANNEL",
	EnvVerdictChannel: "FAASMON_VERDICT_CHANNEL",
	EnvDedupeWindow:   "FAASMON_DEDUPE_WINDOW",
	EnvDedupeDir:      "FAASMON_DEDUPE_DIR",
	EnvDedupeMax:      "FAASMON_DEDUPE_MAX",
	EnvSinkAttempts:   "FAASMON_SINK_ATTEMPTS",
	EnvSinkBackoff:    "FAASMON_SINK_BACKOFF",
	EnvSinkAttemptTTL: "FAASMON_SINK_ATTEMPT_TIMEOUT",
	EnvSinkTimeout:    "FAASMON_SINK_TIMEOUT",
	EnvResponse:       "FAASMON_RESPONSE",
	EnvResponder:      "FAASMON_RESPONDER",
	EnvResponseNS:     "FAASMON_FUNCTION_NAMESPACE",
	EnvGracePeriod:    "FAASMON_RECYCLE_GRACE",
	EnvLocalStackURL:  "FAASMON_LOCALSTACK_URL",
	EnvPriority:       "FAASMON_PRIORITY",
	EnvHostname:       "FAASMON_HOSTNAME",
}

// Defaults.
const (
	DefaultSecretsDir    = "/var/openfaas/secrets"
	DefaultDedupeWindow  = 5 * time.Minute
	DefaultDedupeDir     = "/tmp/faasmon-dedupe"
	DefaultDedupeMax     = 10000
	DefaultLocalStackURL = "http://127.0.0.1:8083"
)

// Config is everything the alert stage is configured by.
type Config struct {
	SecretsDir string

	WebhookURL       string
	WebhookToken     string
	SlackURL         string
	FalcosidekickURL string
	Stdout           bool

	NATS        bool
	NATSURL     string
	NATSCluster string
	NATSChannel string
	// VerdictChannel receives every valid verdict on the NATS connection
	// (when NATS is on); "" disables it.
	VerdictChannel string
	// Outbox is the channel of the outbox consumer (pkg/outbox), when NATS
	// is on; "" disables it. OutboxGrace is the callback's head start.
	Outbox      string
	OutboxGrace time.Duration

	DedupeWindow time.Duration
	DedupeDir    string // "" or "memory": in process
	DedupeMax    int

	Retry RetryPolicy

	Response          string // "label" or "off"
	Responder         string // "auto", "kubernetes", "localstack", "none"
	FunctionNamespace string
	GracePeriod       *int64
	LocalStackURL     string

	Priority string
	Hostname string
}

// LoadConfig reads the environment and the secrets directory.
func LoadConfig() (Config, error) { return LoadConfigLookup(os.LookupEnv) }

// LoadConfigFrom is LoadConfig with another environment, in which an empty
// value is an unset one.
func LoadConfigFrom(getenv func(string) string) (Config, error) {
	return LoadConfigLookup(func(k string) (string, bool) {
		v := getenv(k)
		return v, v != ""
	})
}

// LoadConfigLookup is LoadConfig with another environment (os.LookupEnv's
// shape: a variable set to "" can turn a default off), read through
// pkg/envconf: blank values are unset except where "" is a choice
// (verdict_channel, faasmon_outbox), bad values are errors, and the names
// of LegacyEnv are still read.
func LoadConfigLookup(lookup func(string) (string, bool)) (Config, error) {
	env := envconf.Lookup(lookup).Renamed(LegacyEnv)
	st := &envconf.Strict{Lookup: env}
	c := Config{
		SecretsDir:        env.NonBlank(EnvSecretsDir, DefaultSecretsDir),
		Stdout:            st.Bool(EnvStdout, true),
		NATS:              st.Bool(EnvNATS, true),
		NATSURL:           streaming.URLFromEnv(env.Getenv()),
		NATSCluster:       env.NonBlank(EnvNATSCluster, streaming.DefaultCluster),
		NATSChannel:       env.NonBlank(EnvNATSChannel, streaming.AlertChannel),
		VerdictChannel:    strings.TrimSpace(env.String(EnvVerdictChannel, streaming.VerdictChannel)),
		Outbox:            strings.TrimSpace(env.String(EnvOutbox, streaming.OutboxChannel)),
		OutboxGrace:       st.Duration(EnvOutboxGrace, outbox.DefaultGrace),
		DedupeWindow:      st.Duration(EnvDedupeWindow, DefaultDedupeWindow),
		DedupeDir:         env.NonBlank(EnvDedupeDir, DefaultDedupeDir),
		DedupeMax:         st.PositiveInt(EnvDedupeMax, DefaultDedupeMax),
		Response:          st.OneOf(EnvResponse, "label", "label", "off"),
		Responder:         st.OneOf(EnvResponder, "auto", "auto", "kubernetes", "localstack", "none"),
		FunctionNamespace: env.NonBlank(EnvResponseNS, "openfaas-fn"),
		LocalStackURL:     env.NonBlank(EnvLocalStackURL, DefaultLocalStackURL),
		Priority:          env.NonBlank(EnvPriority, DefaultPriority),
		Hostname:          env.NonBlank(EnvHostname, ""),
		Retry: RetryPolicy{
			Attempts:       st.PositiveInt(EnvSinkAttempts, DefaultRetryPolicy.Attempts),
			Backoff:        st.Duration(EnvSinkBackoff, DefaultRetryPolicy.Backoff),
			AttemptTimeout: st.Duration(EnvSinkAttemptTTL, DefaultRetryPolicy.AttemptTimeout),
			Timeout:        st.Duration(EnvSinkTimeout, DefaultRetryPolicy.Timeout),
		},
	}
	if v := env.NonBlank(EnvGracePeriod, ""); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			st.Errorf("%s=%q: want seconds ≥ 0", EnvGracePeriod, v)
		} else {
			c.GracePeriod = &n
		}
	}
	if !validPriority(c.Priority) {
		st.Errorf("%s=%q: want one of %v", EnvPriority, c.Priority, FalcoPriorities)
	}
	for _, s := range []struct {
		name string
		dst  *string
	}{{SecretWebhookURL, &c.WebhookURL}, {SecretWebhookToken, &c.WebhookToken}, {SecretSlackURL, &c.SlackURL}, {SecretFalcosidekickURL, &c.FalcosidekickURL}} {
		v, err := ReadSecret(c.SecretsDir, s.name)
		if err != nil {
			st.Errorf("%w", err)
		}
		*s.dst = v
	}
	return c, st.Err()
}

func validPriority(p string) bool {
	for _, x := range FalcoPriorities {
		if x == p {
			return true
		}
	}
	return false
}

// ReadSecret reads an OpenFaaS secret file, trimmed; a missing file is "".
func ReadSecret(dir, name string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("secret %s: %w", name, err)
	}
	return strings.TrimSpace(string(b)), nil
}
