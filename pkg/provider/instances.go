package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Instance is one running function process on the local stack: the local
// stand-in for a pod's container. The local provider (internal/dev/localstack) serves
// the list of them at GET /faasmon/instances on its own port
// (127.0.0.1:8083), so that the tracer finds function processes there the way
// it finds pods on a Kubernetes node.
type Instance struct {
	Function  string `json:"function"`
	Namespace string `json:"namespace"`
	// ID changes every time the provider (re)starts the process, as a
	// container id does when a pod is recreated.
	ID      string    `json:"id"`
	PID     int       `json:"pid"`   // the handler's top process (e.g. node index.js, or the Go binary)
	NetNS   string    `json:"netns"` // path of its network namespace, e.g. /run/netns/faasmon-3
	IP      string    `json:"ip"`    // its address inside that namespace, e.g. 10.62.3.2
	Started time.Time `json:"started"`
	// Image is the code version the instance runs: "local:<function>@<build
	// time>" on the local stack (each deploy builds anew).
	Image  string            `json:"image,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
}

// InstancesPath and RecyclePath are the provider's non-OpenFaaS endpoints.
// Recycle replaces a function's process by a fresh one (new private copy of
// the handler, new /tmp): the local equivalent of deleting a pod.
const (
	InstancesPath = "/faasmon/instances"
	RecyclePath   = "/faasmon/recycle" // POST ?function=NAME[&id=INSTANCE_ID]
)

// maxInstancesBody bounds the provider's answer (thousands of instances fit).
const maxInstancesBody = 8 << 20

// FetchInstances lists the instances of the provider at providerURL
// (http://127.0.0.1:8083 on the local stack). A nil client means
// http.DefaultClient; ctx bounds the call.
func FetchInstances(ctx context.Context, c *http.Client, providerURL string) ([]Instance, error) {
	if c == nil {
		c = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(providerURL, "/")+InstancesPath, nil)
	if err != nil {
		return nil, fmt.Errorf("instances request: %w", err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("list instances: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("list instances: provider answered %s", resp.Status)
	}
	var out []Instance
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxInstancesBody)).Decode(&out); err != nil {
		return nil, fmt.Errorf("decode instances: %w", err)
	}
	return out, nil
}
