//go:build race

package sensordata

// raceEnabled shrinks the Prosody burst under the race detector, which
// slows every goroutine tenfold.
const raceEnabled = true
