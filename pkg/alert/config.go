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

// Environment variables, with their defaults.
const (
	EnvSecretsDir     = "FAASMON_SECRETS_DIR"          // /var/openfaas/secrets
	EnvStdout         = "FAASMON_STDOUT"               // true: alerts as JSON lines on stdout
	EnvNATS           = "FAASMON_NATS"                 // true: publish on the NATS Streaming channel
	EnvNATSURL        = streaming.EnvURL               // nats://<faas_nats_address>:<faas_nats_port>
	EnvNATSCluster    = streaming.EnvCluster           // faas-cluster
	EnvOutbox         = outbox.EnvChannel              // faasmon-outbox; set and empty: no outbox consumer
	EnvOutboxGrace    = "FAASMON_OUTBOX_GRACE"         // 5s: the callback's head start
	EnvNATSChannel    = "FAASMON_ALERT_CHANNEL"        // faasmon-alerts
	EnvVerdictChannel = "FAASMON_VERDICT_CHANNEL"      // faasmon-verdicts; set and empty: no verdict log
	EnvDedupeWindow   = "FAASMON_DEDUPE_WINDOW"        // 5m
	EnvDedupeDir      = "FAASMON_DEDUPE_DIR"           // /tmp/faasmon-dedupe; "memory": in process
	EnvDedupeMax      = "FAASMON_DEDUPE_MAX"           // 10000 keys
	EnvSinkAttempts   = "FAASMON_SINK_ATTEMPTS"        // 4
	EnvSinkBackoff    = "FAASMON_SINK_BACKOFF"         // 200ms (doubling, capped at 2s)
	EnvSinkAttemptTTL = "FAASMON_SINK_ATTEMPT_TIMEOUT" // 3s
	EnvSinkTimeout    = "FAASMON_SINK_TIMEOUT"         // 10s per sink and alert
	EnvResponse       = "FAASMON_RESPONSE"             // "label" (per function, by label) or "off"
	EnvResponder      = "FAASMON_RESPONDER"            // auto | kubernetes | localstack | none
	EnvResponseNS     = "FAASMON_FUNCTION_NAMESPACE"   // openfaas-fn
	EnvGracePeriod    = "FAASMON_RECYCLE_GRACE"        // pod delete grace period; empty: the pod's own
	EnvLocalStackURL  = "FAASMON_LOCALSTACK_URL"       // http://127.0.0.1:8083
	EnvPriority       = "FAASMON_PRIORITY"             // Critical: of alerts whose findings carry no severity
	EnvHostname       = "FAASMON_HOSTNAME"             // Falco "hostname"; empty: the alert's node, else os.Hostname()
)

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
// shape: a variable set to "" can turn a default off).
func LoadConfigLookup(lookup func(string) (string, bool)) (Config, error) {
	getenv := func(k string) string { v, _ := lookup(k); return v }
	env := func(k, def string) string {
		if v := strings.TrimSpace(getenv(k)); v != "" {
			return v
		}
		return def
	}
	var errs []error
	boolean := func(k string, def bool) bool {
		v := env(k, strconv.FormatBool(def))
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: %w", k, v, err))
			return def
		}
		return b
	}
	dur := func(k string, def time.Duration) time.Duration {
		v := env(k, def.String())
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("%s=%q: want a positive duration", k, v))
			return def
		}
		return d
	}
	integer := func(k string, def int) int {
		v := env(k, strconv.Itoa(def))
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			errs = append(errs, fmt.Errorf("%s=%q: want a positive integer", k, v))
			return def
		}
		return n
	}
	c := Config{
		SecretsDir:        env(EnvSecretsDir, DefaultSecretsDir),
		Stdout:            boolean(EnvStdout, true),
		NATS:              boolean(EnvNATS, true),
		NATSCluster:       env(EnvNATSCluster, streaming.DefaultCluster),
		NATSChannel:       env(EnvNATSChannel, streaming.AlertChannel),
		DedupeWindow:      dur(EnvDedupeWindow, DefaultDedupeWindow),
		DedupeDir:         env(EnvDedupeDir, DefaultDedupeDir),
		DedupeMax:         integer(EnvDedupeMax, DefaultDedupeMax),
		Response:          env(EnvResponse, "label"),
		Responder:         env(EnvResponder, "auto"),
		FunctionNamespace: env(EnvResponseNS, "openfaas-fn"),
		LocalStackURL:     env(EnvLocalStackURL, DefaultLocalStackURL),
		Priority:          env(EnvPriority, DefaultPriority),
		Hostname:          env(EnvHostname, ""),
		Retry: RetryPolicy{
			Attempts:       integer(EnvSinkAttempts, DefaultRetryPolicy.Attempts),
			Backoff:        dur(EnvSinkBackoff, DefaultRetryPolicy.Backoff),
			AttemptTimeout: dur(EnvSinkAttemptTTL, DefaultRetryPolicy.AttemptTimeout),
			Timeout:        dur(EnvSinkTimeout, DefaultRetryPolicy.Timeout),
		},
	}
	c.VerdictChannel = streaming.VerdictChannel
	if v, ok := lookup(EnvVerdictChannel); ok {
		c.VerdictChannel = strings.TrimSpace(v)
	}
	c.NATSURL = streaming.URLFromEnv(getenv)
	c.Outbox = streaming.OutboxChannel
	if v, ok := lookup(EnvOutbox); ok {
		c.Outbox = strings.TrimSpace(v)
	}
	c.OutboxGrace = dur(EnvOutboxGrace, outbox.DefaultGrace)
	if v := env(EnvGracePeriod, ""); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			errs = append(errs, fmt.Errorf("%s=%q: want seconds ≥ 0", EnvGracePeriod, v))
		} else {
			c.GracePeriod = &n
		}
	}
	switch c.Response {
	case "label", "off":
	default:
		errs = append(errs, fmt.Errorf("%s=%q: want label or off", EnvResponse, c.Response))
	}
	switch c.Responder {
	case "auto", "kubernetes", "localstack", "none":
	default:
		errs = append(errs, fmt.Errorf("%s=%q: want auto, kubernetes, localstack or none", EnvResponder, c.Responder))
	}
	if !validPriority(c.Priority) {
		errs = append(errs, fmt.Errorf("%s=%q: want one of %v", EnvPriority, c.Priority, FalcoPriorities))
	}
	for _, s := range []struct {
		name string
		dst  *string
	}{{SecretWebhookURL, &c.WebhookURL}, {SecretWebhookToken, &c.WebhookToken}, {SecretSlackURL, &c.SlackURL}, {SecretFalcosidekickURL, &c.FalcosidekickURL}} {
		v, err := ReadSecret(c.SecretsDir, s.name)
		if err != nil {
			errs = append(errs, err)
		}
		*s.dst = v
	}
	return c, errors.Join(errs...)
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
