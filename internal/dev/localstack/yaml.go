package localstack

import "go.yaml.in/yaml/v3"

// yamlUnmarshal parses environment files with the project's one YAML v3
// import path. go.yaml.in/yaml/v3 is the maintained continuation of
// gopkg.in/yaml.v3, which go-sdk's stack package uses: same parser, same
// decoding rules, so environment files still parse exactly as stack files do.
func yamlUnmarshal(b []byte, v any) error { return yaml.Unmarshal(b, v) }
