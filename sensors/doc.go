// Package sensors holds the sensor field data model shared by every protocol,
// the sensor drivers built on periph.io, and XEP-0323 (Internet of Things -
// Sensor Data).
package sensors
