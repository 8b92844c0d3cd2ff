package sensordata

import (
	"encoding/xml"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/sensors"
)

// parseXML reads the first element of s.
func parseXML(t testing.TB, s string) (*xmpp.Element, error) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(s))
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		if st, ok := tok.(xml.StartElement); ok {
			return xmpp.ReadElement(d, st, xmpp.Limits{MaxDepth: 16})
		}
	}
}

func mustParse(t *testing.T, s string) any {
	t.Helper()
	e, err := parseXML(t, s)
	if err != nil {
		t.Fatalf("xml %s: %v", s, err)
	}
	v, err := Parse(e)
	if err != nil {
		t.Fatalf("Parse %s: %v", s, err)
	}
	return v
}

var t0 = time.Date(2013, 3, 7, 19, 0, 0, 0, time.UTC)

func TestRequestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		req  Request
		want []string // substrings of the encoding
	}{
		{"momentary", Request{SeqNr: 1, Types: sensors.Momentary}, []string{`seqnr="1"`, `momentary="true"`}},
		{"all", Request{SeqNr: 4, Types: sensors.AllTypes, When: t0}, []string{`all="true"`, `when="2013-03-07T19:00:00Z"`}},
		{"historical range", Request{SeqNr: -5, Types: sensors.Historical | sensors.Peak, From: t0.Add(-time.Hour), To: t0},
			[]string{`historical="true"`, `peak="true"`, `from="2013-03-07T18:00:00Z"`}},
		{"one period", Request{SeqNr: 6, Types: sensors.HistoricalDay}, []string{`historicalDay="true"`}},
		{"nodes fields tokens", Request{SeqNr: 2147483647, Types: sensors.Status | sensors.Identity | sensors.Computed,
			Nodes:  []NodeRef{{NodeID: "Device02"}, {NodeID: "Device03", SourceID: "MeteringTopology", CacheType: "Meter"}},
			Fields: []string{"Energy", "Power"}, ServiceToken: "s", DeviceToken: "d", UserToken: "u"},
			[]string{`<node nodeId="Device03" sourceId="MeteringTopology" cacheType="Meter"/>`, `<field name="Power"/>`, `userToken="u"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.req.Element().String()
			for _, w := range tt.want {
				if !strings.Contains(s, w) {
					t.Errorf("encoding %s lacks %s", s, w)
				}
			}
			got := mustParse(t, s)
			if !reflect.DeepEqual(got, tt.req) {
				t.Errorf("round trip:\n got %+v\nwant %+v", got, tt.req)
			}
		})
	}
}

// allKinds returns one field of every value kind with every QoS flag in
// use, as the integration tests serve them too.
func allKinds(node string, ts time.Time) []sensors.Field {
	loc := time.FixedZone("", 2*3600)
	return []sensors.Field{
		{Node: node, Name: "Temperature", Value: sensors.Numeric(21.5), Unit: "°C", Decimals: 2, Timestamp: ts, Types: sensors.Momentary, QoS: sensors.QoSAutomaticReadout},
		{Node: node, Name: "Ratio", Value: sensors.Numeric(-0.125), Decimals: 3, Timestamp: ts, Types: sensors.Computed | sensors.Peak, QoS: sensors.QoSAutomaticEstimate | sensors.QoSWarning},
		{Node: node, Name: "On", Value: sensors.Boolean(true), Timestamp: ts, Types: sensors.Status, Writable: true},
		{Node: node, Name: "Installed", Value: sensors.Date(time.Date(2020, 5, 17, 0, 0, 0, 0, time.UTC)), Timestamp: ts, Types: sensors.Identity, QoS: sensors.QoSSigned | sensors.QoSInvoiced},
		{Node: node, Name: "Last service", Value: sensors.DateTime(time.Date(2024, 1, 2, 3, 4, 5, 0, loc)), Timestamp: ts, Types: sensors.Status, QoS: sensors.QoSManualReadout | sensors.QoSTimeOffset},
		{Node: node, Name: "Uptime", Value: sensors.Duration(26*time.Hour + 90*time.Second), Timestamp: ts, Types: sensors.Status, QoS: sensors.QoSError | sensors.QoSPowerFailure},
		{Node: node, Name: "Mode", Value: sensors.Enum("Heating", "urn:example:mode"), Timestamp: ts, Types: sensors.Status, QoS: sensors.QoSMissing | sensors.QoSInProgress, Writable: true},
		{Node: node, Name: "Count", Value: sensors.Int(-42), Timestamp: ts, Types: sensors.Momentary, QoS: sensors.QoSManualEstimate},
		{Node: node, Name: "Total", Value: sensors.Long(1 << 40), Timestamp: ts, Types: sensors.Momentary | sensors.HistoricalDay, QoS: sensors.QoSEndOfSeries | sensors.QoSInvoiceConfirmed},
		{Node: node, Name: "Serial", Value: sensors.String("SN-0042 <&>"), Timestamp: ts, Types: sensors.Identity},
		{Node: node, Name: "Alarm time", Value: sensors.TimeOfDay(time.Date(0, 1, 1, 6, 30, 0, 0, time.UTC)), Timestamp: ts, Types: sensors.Status},
	}
}

func sameFields(t *testing.T, got, want []sensors.Field) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d fields, want %d:\n%v", len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Node != w.Node || g.Name != w.Name || !g.Value.Equal(w.Value) || g.Value.DataType() != w.Value.DataType() ||
			g.Unit != w.Unit || g.Decimals != w.Decimals || !g.Timestamp.Equal(w.Timestamp) ||
			g.Types != w.Types || g.QoS != w.QoS || g.Writable != w.Writable {
			t.Errorf("field %d:\n got %v (%+v)\nwant %v (%+v)", i, g, g, w, w)
		}
	}
}

func TestFieldsRoundTrip(t *testing.T) {
	a := allKinds("dev1", t0)
	b := allKinds("dev2", t0.Add(time.Second))[:3]
	hist := []sensors.Field{
		{Node: "dev2", Name: "T", Value: sensors.Numeric(24.5), Unit: "°C", Decimals: 1, Timestamp: t0.Add(-time.Hour), Types: sensors.HistoricalHour},
		{Node: "dev2", Name: "T", Value: sensors.Numeric(25.1), Unit: "°C", Decimals: 1, Timestamp: t0.Add(-2 * time.Hour), Types: sensors.HistoricalHour},
	}
	in := Fields{SeqNr: 4, Done: true, Fields: append(append(a, b...), hist...),
		Refs: map[string]NodeRef{"dev2": {NodeID: "dev2", SourceID: "src", CacheType: "Meter"}}}
	s := in.Element().String()
	for _, w := range []string{`done="true"`, `<duration name="Uptime"`, `value="P1DT2H1M30S"`, `<enum name="Mode"`,
		`dataType="urn:example:mode"`, `writable="true"`, `value="21.50" unit="°C"`, `<numeric name="Ratio" peak="true" computed="true" automaticEstimate="true" warning="true" value="-0.125" unit=""`,
		`<time name="Alarm time"`, `<date name="Installed"`, `<long name="Total"`, `<int name="Count"`, `sourceId="src"`} {
		if !strings.Contains(s, w) {
			t.Errorf("encoding lacks %s:\n%s", w, s)
		}
	}
	if n := strings.Count(s, "<timestamp "); n != 4 {
		t.Errorf("%d timestamp elements, want 4 (dev1, dev2 now, dev2 two hours):\n%s", n, s)
	}
	got := mustParse(t, s).(Fields)
	if got.SeqNr != 4 || !got.Done || got.Refs["dev2"].CacheType != "Meter" {
		t.Errorf("header: %+v", got)
	}
	sameFields(t, got.Fields, in.Fields)
}

func TestLegacyDialect(t *testing.T) {
	in := Fields{SeqNr: 1, Fields: allKinds("n", t0)}
	s := in.ElementFor(Legacy).String()
	for _, w := range []string{`<timeSpan name="Uptime"`, `<numeric name="Count" momentary="true" manualEstimate="true" value="-42" unit=""`,
		`<dateTime name="Installed" identification`, `<string name="Alarm time"`} {
		if !strings.Contains(strings.ReplaceAll(s, `identity="true"`, "identification"), w) {
			t.Errorf("legacy encoding lacks %s:\n%s", w, s)
		}
	}
	for _, no := range []string{"<duration", "<int ", "<long ", "<date ", "<time "} {
		if strings.Contains(s, no) {
			t.Errorf("legacy encoding has %s:\n%s", no, s)
		}
	}
	got := mustParse(t, s).(Fields)
	if len(got.Fields) != len(in.Fields) {
		t.Fatalf("legacy round trip: %d fields", len(got.Fields))
	}
	if d, ok := got.Fields[5].Value.Duration(); !ok || d != 26*time.Hour+90*time.Second {
		t.Errorf("timeSpan read back as %v", got.Fields[5].Value)
	}
}

// TestSpecExamples decodes the examples of XEP-0323 §3 and §5.
func TestSpecExamples(t *testing.T) {
	got := mustParse(t, `<fields xmlns='urn:xmpp:iot:sensordata' seqnr='1' done='true'>
    <node nodeId='Device01'>
      <timestamp value='2013-03-07T16:24:30'>
        <numeric name='Temperature' momentary='true' automaticReadout='true' value='23.4' unit='°C'/>
      </timestamp>
    </node>
  </fields>`).(Fields)
	want := []sensors.Field{{Node: "Device01", Name: "Temperature", Value: sensors.Numeric(23.4), Unit: "°C", Decimals: 1,
		Timestamp: time.Date(2013, 3, 7, 16, 24, 30, 0, time.UTC), Types: sensors.Momentary, QoS: sensors.QoSAutomaticReadout}}
	sameFields(t, got.Fields, want)

	f := mustParse(t, `<failure xmlns='urn:xmpp:iot:sensordata' seqnr='2' done='true'>
    <error nodeId='Device01' timestamp='2013-03-07T17:13:30'>Timeout.</error></failure>`).(Failure)
	if !f.Done || len(f.Errors) != 1 || f.Errors[0].Node.NodeID != "Device01" || f.Errors[0].Text != "Timeout." ||
		!f.Errors[0].Timestamp.Equal(time.Date(2013, 3, 7, 17, 13, 30, 0, time.UTC)) {
		t.Errorf("failure: %+v", f)
	}
	simple := []struct {
		xml  string
		want any
	}{
		{`<accepted xmlns='urn:xmpp:iot:sensordata' seqnr='4' queued='true'/>`, Accepted{SeqNr: 4, Queued: true}},
		{`<accepted xmlns='urn:xmpp:iot:sensordata' seqnr='1'/>`, Accepted{SeqNr: 1}},
		{`<started xmlns='urn:xmpp:iot:sensordata' seqnr='4'/>`, Started{SeqNr: 4}},
		{`<done xmlns='urn:xmpp:iot:sensordata' seqnr='4'/>`, Done{SeqNr: 4}},
		{`<cancel xmlns='urn:xmpp:iot:sensordata' seqnr='8'/>`, Cancel{SeqNr: 8}},
		{`<cancelled xmlns='urn:xmpp:iot:sensordata' seqnr='8'/>`, Cancelled{SeqNr: 8}},
		{`<rejected xmlns='urn:xmpp:iot:sensordata' seqnr='3'><error>Access denied</error></rejected>`, Rejected{SeqNr: 3, Text: "Access denied"}},
		{`<req xmlns='urn:xmpp:iot:sensordata' seqnr='6' momentary='true'><node nodeId='Device04'/><field name='Energy'/><field name='Power'/></req>`,
			Request{SeqNr: 6, Types: sensors.Momentary, Nodes: []NodeRef{{NodeID: "Device04"}}, Fields: []string{"Energy", "Power"}}},
	}
	for _, s := range simple {
		if got := mustParse(t, s.xml); !reflect.DeepEqual(got, s.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", s.xml, got, s.want)
		}
		// and back
		el := s.want.(interface{ Element() *xmpp.Element }).Element()
		if got := mustParse(t, el.String()); !reflect.DeepEqual(got, s.want) {
			t.Errorf("re-encoded %s: got %+v", el, got)
		}
	}
}

func TestMalformed(t *testing.T) {
	tests := []struct{ name, xml string }{
		{"no seqnr", `<req xmlns='urn:xmpp:iot:sensordata' momentary='true'/>`},
		{"seqnr too big", `<accepted xmlns='urn:xmpp:iot:sensordata' seqnr='2147483648'/>`},
		{"bad bool", `<req xmlns='urn:xmpp:iot:sensordata' seqnr='1' momentary='yes'/>`},
		{"bad when", `<req xmlns='urn:xmpp:iot:sensordata' seqnr='1' when='tomorrow'/>`},
		{"from after to", `<req xmlns='urn:xmpp:iot:sensordata' seqnr='1' from='2020-01-02T00:00:00Z' to='2020-01-01T00:00:00Z'/>`},
		{"node without id", `<req xmlns='urn:xmpp:iot:sensordata' seqnr='1'><node/></req>`},
		{"field without name", `<req xmlns='urn:xmpp:iot:sensordata' seqnr='1'><field/></req>`},
		{"stray child", `<req xmlns='urn:xmpp:iot:sensordata' seqnr='1'><x/></req>`},
		{"bad timestamp", `<fields xmlns='urn:xmpp:iot:sensordata' seqnr='1'><node nodeId='a'><timestamp value='x'/></node></fields>`},
		{"bad numeric", `<fields xmlns='urn:xmpp:iot:sensordata' seqnr='1'><node nodeId='a'><timestamp value='2020-01-01T00:00:00'><numeric name='x' value='1,5' unit=''/></timestamp></node></fields>`},
		{"int overflow", `<fields xmlns='urn:xmpp:iot:sensordata' seqnr='1'><node nodeId='a'><timestamp value='2020-01-01T00:00:00'><int name='x' value='4294967296'/></timestamp></node></fields>`},
		{"field without value", `<fields xmlns='urn:xmpp:iot:sensordata' seqnr='1'><node nodeId='a'><timestamp value='2020-01-01T00:00:00'><string name='x'/></timestamp></node></fields>`},
		{"wrong namespace", `<req xmlns='urn:xmpp:sn' seqnr='1'/>`},
		{"unknown element", `<bogus xmlns='urn:xmpp:iot:sensordata' seqnr='1'/>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := parseXML(t, tt.xml)
			if err != nil {
				t.Fatal(err)
			}
			if v, err := Parse(e); !errors.Is(err, ErrMalformed) {
				t.Errorf("Parse = %+v, %v; want ErrMalformed", v, err)
			}
		})
	}
}
