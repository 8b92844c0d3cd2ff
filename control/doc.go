// Package control holds the control parameter model, the outputs built on
// periph.io, demand-response safety (bounds, failsafe, timed overrides) and
// XEP-0325 (Internet of Things - Control).
package control
