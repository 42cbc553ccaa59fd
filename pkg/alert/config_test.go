package alert

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faasmon/faasmon/pkg/streaming"
)

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	for name, v := range map[string]string{SecretWebhookURL: "http://hook.example/x\n", SecretWebhookToken: " tok ", SecretSlackURL: "https://hooks.slack.com/services/T/B/X", SecretFalcosidekickURL: "http://falcosidekick:2801/"} {
		os.WriteFile(filepath.Join(dir, name), []byte(v), 0o600)
	}
	tests := []struct {
		name    string
		env     map[string]string
		check   func(t *testing.T, c Config)
		wantErr bool
	}{
		{"defaults", map[string]string{EnvSecretsDir: t.TempDir()}, func(t *testing.T, c Config) {
			if c.NATSURL != "nats://nats.openfaas:4222" || c.NATSCluster != "faas-cluster" || c.NATSChannel != "faasmon-alerts" || !c.NATS || !c.Stdout {
				t.Errorf("%+v", c)
			}
			if c.DedupeWindow != 5*time.Minute || c.DedupeDir != DefaultDedupeDir || c.Response != "label" || c.Priority != "Critical" || c.WebhookURL != "" {
				t.Errorf("%+v", c)
			}
		}, false},
		{"secrets and env", map[string]string{EnvSecretsDir: dir, streaming.EnvAddress: "127.0.0.1", streaming.EnvPort: "4223", EnvDedupeWindow: "30s", EnvSinkAttempts: "2", EnvGracePeriod: "0"}, func(t *testing.T, c Config) {
			if c.WebhookURL != "http://hook.example/x" || c.WebhookToken != "tok" || c.SlackURL == "" || c.FalcosidekickURL != "http://falcosidekick:2801/" {
				t.Errorf("secrets %+v", c)
			}
			if c.NATSURL != "nats://127.0.0.1:4223" || c.DedupeWindow != 30*time.Second || c.Retry.Attempts != 2 || c.GracePeriod == nil || *c.GracePeriod != 0 {
				t.Errorf("%+v", c)
			}
		}, false},
		{"bad values", map[string]string{EnvSecretsDir: dir, EnvDedupeWindow: "soon", EnvPriority: "Loud", EnvResponse: "always"}, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := LoadConfigFrom(func(k string) string { return tc.env[k] })
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v", err)
			}
			if tc.check != nil {
				tc.check(t, c)
			}
		})
	}
}

// TestLegacyEnv: every variable renamed to snake_case in this release is
// still read by its old FAASMON_ name when the new one is unset, and the
// new name wins when both are set.
func TestLegacyEnv(t *testing.T) {
	secrets := t.TempDir()
	values := map[string]string{
		EnvSecretsDir: secrets, EnvStdout: "false", EnvNATS: "false", EnvOutbox: "ob", EnvOutboxGrace: "7s",
		EnvNATSChannel: "al", EnvVerdictChannel: "vc", EnvDedupeWindow: "9m", EnvDedupeDir: "memory", EnvDedupeMax: "12",
		EnvSinkAttempts: "3", EnvSinkBackoff: "50ms", EnvSinkAttemptTTL: "4s", EnvSinkTimeout: "11s", EnvResponse: "off",
		EnvResponder: "none", EnvResponseNS: "fns", EnvGracePeriod: "2", EnvLocalStackURL: "http://p:1", EnvPriority: "Error", EnvHostname: "h1",
	}
	if len(values) != len(LegacyEnv) {
		t.Fatalf("%d values for %d renamed variables", len(values), len(LegacyEnv))
	}
	check := func(t *testing.T, c Config) {
		t.Helper()
		if c.SecretsDir != secrets || c.Stdout || c.NATS || c.Outbox != "ob" || c.OutboxGrace != 7*time.Second || c.NATSChannel != "al" ||
			c.VerdictChannel != "vc" || c.DedupeWindow != 9*time.Minute || c.DedupeDir != "memory" || c.DedupeMax != 12 ||
			c.Retry.Attempts != 3 || c.Retry.Backoff != 50*time.Millisecond || c.Retry.AttemptTimeout != 4*time.Second || c.Retry.Timeout != 11*time.Second ||
			c.Response != "off" || c.Responder != "none" || c.FunctionNamespace != "fns" || c.GracePeriod == nil || *c.GracePeriod != 2 ||
			c.LocalStackURL != "http://p:1" || c.Priority != "Error" || c.Hostname != "h1" {
			t.Errorf("%+v", c)
		}
	}
	for _, tc := range []struct {
		name string
		env  func() map[string]string
	}{
		{"new names", func() map[string]string { return values }},
		{"old names", func() map[string]string {
			m := map[string]string{}
			for k, v := range values {
				m[LegacyEnv[k]] = v
			}
			return m
		}},
		{"new wins over old", func() map[string]string {
			m := map[string]string{}
			for k, v := range values {
				m[k] = v
				m[LegacyEnv[k]] = "bad value the new name overrides"
			}
			return m
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := tc.env()
			c, err := LoadConfigLookup(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
			if err != nil {
				t.Fatal(err)
			}
			check(t, c)
		})
	}
	for k, old := range LegacyEnv {
		if k == old || strings.ToLower(k) != k || !strings.HasPrefix(old, "FAASMON_") {
			t.Errorf("%s (was %s): new names are snake_case, old ones FAASMON_UPPER", k, old)
		}
	}
}
