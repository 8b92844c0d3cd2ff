package component

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	for _, tc := range []struct {
		failures int
		max      time.Duration
	}{
		{1, time.Second},
		{2, 2 * time.Second},
		{3, 4 * time.Second},
		{10, 512 * time.Second},
		{11, maxBackoff},
		{64, maxBackoff},
		{1 << 30, maxBackoff},
	} {
		for range 50 {
			if got := backoff(tc.failures); got > tc.max || got < tc.max*3/4 {
				t.Fatalf("backoff(%d) = %v, want %v less at most 25%%", tc.failures, got, tc.max)
			}
		}
	}
}

func TestStateFileNames(t *testing.T) {
	a, b := stateFile("d", "a@mqtt.example.org"), stateFile("d", "b@mqtt.example.org")
	long := stateFile("d", string(make([]byte, 1023))+"@mqtt.example.org")
	if a == b || len(a) != len("d/")+32+len(".json") || len(long) != len(a) {
		t.Errorf("state files %q %q %q", a, b, long)
	}
}
