// Package concentrator implements XEP-0326 (Internet of Things - Concentrators)
// and the MQTT bridge that gives every MQTT device its own JID.
package concentrator
