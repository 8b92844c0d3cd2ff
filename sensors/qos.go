package sensors

import (
	"fmt"
	"strings"
)

// QoS is a set of XEP-0323 field quality-of-service flags. The flags are
// ordered by the importance the spec gives them, lowest first: an estimate
// must not overwrite an automatic readout, which must not overwrite a signed
// value, and so on. The empty set means automaticReadout (XEP-0323 §3.5).
type QoS uint16

// The quality-of-service flags of XEP-0323 §3.5, in schema order.
const (
	QoSMissing QoS = 1 << iota
	QoSInProgress
	QoSAutomaticEstimate
	QoSManualEstimate
	QoSManualReadout
	QoSAutomaticReadout
	QoSTimeOffset
	QoSWarning
	QoSError
	QoSSigned
	QoSInvoiced
	QoSEndOfSeries
	QoSPowerFailure
	QoSInvoiceConfirmed

	qosAll = QoSInvoiceConfirmed<<1 - 1
)

// qosNames are the XML attribute names, indexed by bit position.
var qosNames = [...]string{
	"missing", "inProgress", "automaticEstimate", "manualEstimate",
	"manualReadout", "automaticReadout", "timeOffset", "warning", "error",
	"signed", "invoiced", "endOfSeries", "powerFailure", "invoiceConfirmed",
}

// Names returns the XEP-0323 attribute name of every flag in the set, in
// schema order. Unknown bits are ignored.
func (q QoS) Names() []string {
	var names []string
	for i, n := range qosNames {
		if q&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	return names
}

// String returns the attribute names joined by commas, or "none" for the
// empty set. ParseQoS reads it back.
func (q QoS) String() string {
	if q&qosAll == 0 {
		return "none"
	}
	return strings.Join(q.Names(), ",")
}

// Has reports whether every flag in r is also in q.
func (q QoS) Has(r QoS) bool { return q&r == r }

// ParseQoS parses one flag name or a list separated by commas or spaces, as
// the XEP-0323 attribute names spell them, or "none".
func ParseQoS(s string) (QoS, error) {
	var q QoS
	for _, name := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		if name == "none" {
			continue
		}
		found := false
		for i, n := range qosNames {
			if n == name {
				q |= 1 << i
				found = true
				break
			}
		}
		if !found {
			return 0, fmt.Errorf("sensors: unknown QoS flag %q", name)
		}
	}
	return q, nil
}
