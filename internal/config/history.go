package config

import "time"

// History configures the sample store behind historical readouts, kept
// in state_dir/history.db.
type History struct {
	// MaxAge drops samples older than this; 0 keeps them until MaxBytes.
	MaxAge time.Duration `yaml:"max_age"`
	// MaxBytes bounds the stored samples; the oldest go first. 0 means the
	// store's default (128 MiB).
	MaxBytes int64 `yaml:"max_bytes"`
}
