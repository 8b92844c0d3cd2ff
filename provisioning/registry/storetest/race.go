//go:build race

package storetest

// raceEnabled: the race detector slows the SQL engines tenfold, so the
// random searches are fewer (the suite without it runs them all).
const raceEnabled = true
