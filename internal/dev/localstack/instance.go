package localstack

import "github.com/faasmon/faasmon/pkg/provider"

// The instance record and the provider's faasmon endpoints are defined in
// pkg/provider, the small shipped package that the tracer and the alert's
// responder use as clients; these names let the server code here (and its
// tests) say what it serves without a second definition.
type Instance = provider.Instance

const (
	InstancesPath = provider.InstancesPath
	RecyclePath   = provider.RecyclePath
)
