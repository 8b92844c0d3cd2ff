// Package agent is the xiot device daemon: it keeps an XMPP session alive,
// routes incoming stanzas to the protocol handlers of the sensors and control
// packages, and applies failsafe states when the link is lost.
package agent
