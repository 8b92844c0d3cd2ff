//go:build !race

package sensordata

const raceEnabled = false
