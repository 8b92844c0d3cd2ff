// Package control holds the control parameter model, the outputs built on
// periph.io, demand-response safety (bounds, failsafe, timed overrides,
// interlocks, audit) and, in subpackage iotcontrol, XEP-0325 (Internet of
// Things - Control).
//
// A Param declares a parameter of one of the ten XEP-0325 types (Type,
// Value) with its bounds or allowed values. An Output applies values:
// Relay drives a GPIO (active-low boards included), PWM a duty cycle
// through gpio.PinOut.PWM, Virtual keeps a setpoint for the agent's own
// logic. A Point ties the three together with its Safety rules, and a
// Controller owns the points:
//
//   - every set is validated in full (parameter known, type, bounds,
//     interlocks) before anything is written, and refused as a whole with a
//     *SetError otherwise;
//   - the failsafe value is written at boot, on Shutdown, and when Offline
//     has lasted the output's grace period (Online cancels; a new
//     Controller is offline until its first Online);
//   - a set with an override duration is undone when it ends, also across
//     a restart: the overrides in force are persisted, atomically, in the
//     state directory;
//   - minimum on and off times and a maximum switch rate protect
//     compressors and contactors;
//   - every accepted and refused set, and every action of the Controller
//     itself, goes to a persisted audit log (JSON lines).
//
// The Controller's clock is injectable, and Tick applies whatever is due,
// so the timing rules are tested without sleeping; Run calls Tick on time
// in the agent.
package control
