package sensors

import (
	"reflect"
	"testing"
)

func TestParseReadoutType(t *testing.T) {
	tests := []struct {
		in      string
		want    ReadoutType
		str     string
		wantErr bool
	}{
		{"momentary", Momentary, "momentary", false},
		{"momentary,status", Momentary | Status, "momentary,status", false},
		{"status momentary", Momentary | Status, "momentary,status", false},
		{"historicalDay", HistoricalDay, "historicalDay", false},
		{"historical", Historical, "historicalSecond,historicalMinute,historicalHour,historicalDay,historicalWeek,historicalMonth,historicalQuarter,historicalYear,historicalOther", false},
		{"all", AllTypes, "momentary,peak,status,computed,identity,historicalSecond,historicalMinute,historicalHour,historicalDay,historicalWeek,historicalMonth,historicalQuarter,historicalYear,historicalOther", false},
		{"", 0, "none", false},
		{"none", 0, "none", false},
		{"identity,computed,peak", Peak | Computed | Identity, "peak,computed,identity", false},
		{"Momentary", 0, "", true},
		{"momentary,bogus", 0, "", true},
	}
	for _, tt := range tests {
		got, err := ParseReadoutType(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseReadoutType(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if tt.wantErr {
			continue
		}
		if got != tt.want {
			t.Errorf("ParseReadoutType(%q) = %#x, want %#x", tt.in, got, tt.want)
		}
		if s := got.String(); s != tt.str {
			t.Errorf("%#x.String() = %q, want %q", got, s, tt.str)
		}
		back, err := ParseReadoutType(got.String())
		if err != nil || back != got {
			t.Errorf("round trip of %q = %#x, %v", got.String(), back, err)
		}
	}
}

func TestReadoutTypeSetOps(t *testing.T) {
	f := Momentary | Status
	tests := []struct {
		req             ReadoutType
		has, intersects bool
	}{
		{Momentary, true, true},
		{Momentary | Status, true, true},
		{Momentary | Peak, false, true},
		{Peak, false, false},
		{Historical, false, false},
		{AllTypes, false, true},
	}
	for _, tt := range tests {
		if got := f.Has(tt.req); got != tt.has {
			t.Errorf("Has(%v) = %v", tt.req, got)
		}
		if got := f.Intersects(tt.req); got != tt.intersects {
			t.Errorf("Intersects(%v) = %v", tt.req, got)
		}
	}
	if n := len(AllTypes.Names()); n != 14 {
		t.Errorf("AllTypes has %d names, XEP-0323 lists 14", n)
	}
}

func TestParseQoS(t *testing.T) {
	tests := []struct {
		in      string
		want    QoS
		names   []string
		wantErr bool
	}{
		{"automaticReadout", QoSAutomaticReadout, []string{"automaticReadout"}, false},
		{"error,warning", QoSWarning | QoSError, []string{"warning", "error"}, false},
		{"invoiceConfirmed missing", QoSMissing | QoSInvoiceConfirmed, []string{"missing", "invoiceConfirmed"}, false},
		{"none", 0, nil, false},
		{"signed,invoiced,endOfSeries,powerFailure,timeOffset,inProgress,automaticEstimate,manualEstimate,manualReadout",
			QoSSigned | QoSInvoiced | QoSEndOfSeries | QoSPowerFailure | QoSTimeOffset | QoSInProgress |
				QoSAutomaticEstimate | QoSManualEstimate | QoSManualReadout,
			[]string{"inProgress", "automaticEstimate", "manualEstimate", "manualReadout", "timeOffset", "signed", "invoiced", "endOfSeries", "powerFailure"}, false},
		{"Error", 0, nil, true},
	}
	for _, tt := range tests {
		got, err := ParseQoS(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseQoS(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if tt.wantErr {
			continue
		}
		if got != tt.want {
			t.Errorf("ParseQoS(%q) = %#x, want %#x", tt.in, got, tt.want)
		}
		if n := got.Names(); !reflect.DeepEqual(n, tt.names) {
			t.Errorf("%#x.Names() = %q, want %q", got, n, tt.names)
		}
		if back, err := ParseQoS(got.String()); err != nil || back != got {
			t.Errorf("round trip of %q = %#x, %v", got.String(), back, err)
		}
	}
}
