package sensordata

import (
	"errors"
	"testing"

	"github.com/xiot/xiot/sensors"
)

// TestServerNodeRefs writes the data source of each node (XEP-0326) beside
// its id in fields and failures.
func TestServerNodeRefs(t *testing.T) {
	good := &fakeSensor{node: "dev/a", fields: allKinds("dev/a", t0)[:1]}
	bad := &fakeSensor{node: "gone", fields: allKinds("gone", t0)[:1], err: errors.New("no such node")}
	plain := &fakeSensor{node: "plain", fields: allKinds("plain", t0)[:1]}
	rec := newRecorder()
	srv := newTestServer(t, Options{NodeRefs: map[string]NodeRef{"dev/a": {SourceID: "MQTT"}, "gone": {SourceID: "Other", CacheType: "X"}}}, good, bad, plain)
	srv.handleReq(rec, reqIQ("r1", Request{SeqNr: 1, Types: sensors.Momentary}))
	_, msgs := collect(t, rec)
	if len(msgs) != 2 {
		t.Fatalf("messages %+v, want fields then failure", msgs)
	}
	f := msgs[0].(Fields)
	if f.Refs["dev/a"].SourceID != "MQTT" || f.Refs["plain"].SourceID != "" || len(f.Fields) != 2 {
		t.Errorf("fields %+v", f)
	}
	fl := msgs[1].(Failure)
	if len(fl.Errors) != 1 || fl.Errors[0].Node != (NodeRef{NodeID: "gone", SourceID: "Other", CacheType: "X"}) {
		t.Errorf("failure %+v", fl)
	}
}
