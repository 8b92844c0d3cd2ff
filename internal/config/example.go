package config

import _ "embed"

//go:embed example.yaml
var example string

// ExampleYAML returns the commented example configuration (example.yaml),
// printed by "xiot config example". It documents every key and its default.
func ExampleYAML() string {
	return example
}
