package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNodesChangeUsage checks the flag combinations of xiot nodes'
// changes before any connection is made.
func TestNodesChangeUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--create", "MQTTMappings/mappings"}, "--create needs --type"},
		{[]string{"--create", "a/b", "--edit", "a/c", "--type", "x"}, "--create, --edit: give one of them"},
		{[]string{"--destroy", "nodeonly"}, `--destroy "nodeonly": want SOURCE/NODE`},
		{[]string{"--destroy", "a/b", "--set", "x=1"}, "not --destroy"},
		{[]string{"--edit", "MQTT/plug1"}, "--edit needs --set"},
		{[]string{"--edit", "MQTT/plug1", "--set", "name=x", "--type", "t"}, "--type goes with --create or --form"},
		{[]string{"--set", "name=x"}, "go with --create, --edit, --form or --execute"},
		{[]string{"--execute", "MQTTMappings/m"}, "--execute needs --command"},
		{[]string{"--commands", "MQTTMappings/m", "--command", "x"}, "--command goes with --execute"},
		{[]string{"--commands", "MQTTMappings/m", "--set", "a=b"}, "not --commands"},
		{[]string{"--form", "MQTT/plug1", "--source", "MQTT"}, "--source browses"},
	} {
		code, _, errOut := runXiot(t, append(append([]string{"nodes"}, tc.args...), "mqtt.example.org")...)
		if code != exitUsage || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, %q; want usage error %q", tc.args, code, errOut, tc.want)
		}
	}
}

func TestNodeChangeValues(t *testing.T) {
	dir := t.TempDir()
	good, loose := filepath.Join(dir, "good"), filepath.Join(dir, "loose")
	if err := os.WriteFile(good, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(loose, []byte("s3cret\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := nodeChange{sets: listFlag{"id=x", "topic=a=b/{device}"}, setFiles: listFlag{"password=" + good}}
	vals, err := c.values()
	if err != nil || len(vals) != 3 || vals[1] != [2]string{"topic", "a=b/{device}"} || vals[2] != [2]string{"password", "s3cret"} {
		t.Errorf("values %v %v", vals, err)
	}
	for _, bad := range []nodeChange{
		{setFiles: listFlag{"password=" + loose}},
		{sets: listFlag{"novalue"}},
		{sets: listFlag{"id=a", "id=b"}},
		{sets: listFlag{"=v"}},
	} {
		if _, err := bad.values(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
