package registry

import (
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	now := time.Unix(0, 0)
	l := newLimiter(2, time.Second, func() time.Time { return now })
	steps := []struct {
		advance time.Duration
		key     string
		want    bool
	}{
		{0, "a", true}, {0, "a", true}, {0, "a", false}, // burst of 2
		{0, "b", true},                                                 // per key
		{500 * time.Millisecond, "a", false},                           // half a token
		{500 * time.Millisecond, "a", true},                            // one token back
		{10 * time.Second, "a", true}, {0, "a", true}, {0, "a", false}, // capped at the burst
	}
	for i, s := range steps {
		now = now.Add(s.advance)
		if got := l.allow(s.key); got != s.want {
			t.Fatalf("step %d (%s): allow = %v, want %v", i, s.key, got, s.want)
		}
	}
}
