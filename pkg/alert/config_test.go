package alert

import (
	"os"
	"path/filepath"
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
