//go:build !linux

package cpu

import (
	"errors"
	"time"
)

// Process fails: there is no /proc here.
func Process(int) (time.Duration, error) { return 0, errors.New("no /proc") }

// Self returns 0: not measured here.
func Self() time.Duration { return 0 }
