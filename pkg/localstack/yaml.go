package localstack

import "gopkg.in/yaml.v3"

// yamlUnmarshal uses the YAML library go-sdk's stack package uses, so that
// environment files parse exactly as stack files do.
func yamlUnmarshal(b []byte, v any) error { return yaml.Unmarshal(b, v) }
