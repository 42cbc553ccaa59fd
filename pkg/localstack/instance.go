package localstack

import "time"

// Instance is one running function process on the local stack: the local
// stand-in for a pod's container. The provider serves the list of them at
// GET /faasmon/instances on its own port (127.0.0.1:8083), so that the tracer
// finds function processes here the way it finds pods on a Kubernetes node.
type Instance struct {
	Function  string `json:"function"`
	Namespace string `json:"namespace"`
	// ID changes every time the provider (re)starts the process, as a
	// container id does when a pod is recreated.
	ID      string            `json:"id"`
	PID     int               `json:"pid"`   // the handler's top process (e.g. node index.js, or the Go binary)
	NetNS   string            `json:"netns"` // path of its network namespace, e.g. /run/netns/faasmon-3
	IP      string            `json:"ip"`    // its address inside that namespace, e.g. 10.62.3.2
	Started time.Time         `json:"started"`
	Labels  map[string]string `json:"labels,omitempty"`
}

// InstancesPath and RecyclePath are the provider's non-OpenFaaS endpoints.
// Recycle replaces a function's process by a fresh one (new private copy of
// the handler, new /tmp): the local equivalent of deleting a pod.
const (
	InstancesPath = "/faasmon/instances"
	RecyclePath   = "/faasmon/recycle" // POST ?function=NAME[&id=INSTANCE_ID]
)
