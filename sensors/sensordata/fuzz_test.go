package sensordata

import (
	"reflect"
	"testing"
	"time"

	"github.com/xiot/xiot/internal/xmpp"
)

// FuzzParse checks that Parse never panics on any element and that what it
// accepts encodes to an element it decodes to the same value.
func FuzzParse(f *testing.F) {
	seeds := []string{
		`<req xmlns='urn:xmpp:iot:sensordata' seqnr='4' all='true' when='2013-03-07T19:00:00'/>`,
		`<req xmlns='urn:xmpp:iot:sensordata' seqnr='6' momentary='true' historicalDay='1' from='2013-03-07T00:00:00Z' to='2013-03-08T00:00:00+01:00' userToken='u'><node nodeId='Device04' sourceId='s' cacheType='c'/><field name='Energy'/></req>`,
		`<accepted xmlns='urn:xmpp:iot:sensordata' seqnr='4' queued='true'/>`,
		`<started xmlns='urn:xmpp:iot:sensordata' seqnr='4'/>`,
		`<done xmlns='urn:xmpp:iot:sensordata' seqnr='4'/>`,
		`<cancel xmlns='urn:xmpp:iot:sensordata' seqnr='8'/>`,
		`<cancelled xmlns='urn:xmpp:iot:sensordata' seqnr='8'/>`,
		`<rejected xmlns='urn:xmpp:iot:sensordata' seqnr='3'><error>Access denied</error></rejected>`,
		`<failure xmlns='urn:xmpp:iot:sensordata' seqnr='2' done='true'><error nodeId='Device01' timestamp='2013-03-07T17:13:30'>Timeout.</error></failure>`,
		Fields{SeqNr: 9, Done: true, Fields: allKinds("n", t0)}.Element().String(),
		Fields{SeqNr: 9, Fields: allKinds("n", t0.In(time.FixedZone("", -3600)))}.ElementFor(Legacy).String(),
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := parseXML(t, s)
		if err != nil {
			return
		}
		v, err := Parse(e)
		if err != nil {
			return
		}
		enc, ok := v.(interface{ Element() *xmpp.Element })
		if !ok {
			t.Fatalf("Parse returned %T without Element", v)
		}
		out := enc.Element().String()
		e2, err := parseXML(t, out)
		if err != nil {
			t.Fatalf("re-encoded %q does not parse as XML: %v", out, err)
		}
		v2, err := Parse(e2)
		if err != nil {
			t.Fatalf("re-encoded %q does not decode: %v", out, err)
		}
		if fs, ok := v.(Fields); ok {
			sameFields(t, v2.(Fields).Fields, fs.Fields)
			return
		}
		if fl, ok := v.(Failure); ok {
			// Timestamps are free text in the schema; compare the rest.
			fl2 := v2.(Failure)
			if len(fl.Errors) != len(fl2.Errors) {
				t.Fatalf("failure round trip: %+v vs %+v", fl, fl2)
			}
			return
		}
		if !reflect.DeepEqual(v, v2) && !timesEqual(v, v2) {
			t.Fatalf("round trip of %q:\n got %+v\nwant %+v", out, v2, v)
		}
	})
}

// timesEqual compares requests whose times are equal instants in different
// locations.
func timesEqual(a, b any) bool {
	ra, ok1 := a.(Request)
	rb, ok2 := b.(Request)
	if !ok1 || !ok2 || !ra.From.Equal(rb.From) || !ra.To.Equal(rb.To) || !ra.When.Equal(rb.When) {
		return false
	}
	ra.From, ra.To, ra.When = rb.From, rb.To, rb.When
	return reflect.DeepEqual(ra, rb)
}
