package testserver

import (
	"strings"
	"testing"
)

func TestLuaString(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{"/tmp/xiot-prosody-1", `"/tmp/xiot-prosody-1"`, false},
		{`a"b\c`, `"a\"b\\c"`, false},
		{"", `""`, false},
		{"line\nbreak", "", true},
		{"caf\u00e9", "", true},
	}
	for _, tc := range tests {
		got, err := luaString(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want && !tc.wantErr {
			t.Errorf("luaString(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestProsodyConfigRender(t *testing.T) {
	base := prosodyConfig{
		dir: "/t", dataDir: "/t/data", certFile: "/t/c.crt", keyFile: "/t/c.key",
		domain: "localhost", componentDomain: "iot.localhost", componentSecret: "s3",
		c2sPort: 1001, componentPort: 1002,
	}
	tests := []struct {
		name       string
		mod        func(*prosodyConfig)
		want, deny []string
	}{
		{"stock", func(*prosodyConfig) {},
			[]string{"run_as_root = true", "c2s_ports = { 1001 }", "c2s_direct_tls_ports = {}",
				"component_ports = { 1002 }", `"smacks"`, `"pep"`, `"posix"`, `modules_disabled = { "s2s"; "offline" }`,
				`password_hash = "SHA-256"`, "c2s_require_encryption = true", `Component "iot.localhost"`,
				`component_secret = "s3"`, `info = "/t/prosody.log"`},
			[]string{"network_settings", "debug ="}},
		{"all options", func(c *prosodyConfig) {
			c.directTLSPort = 1003
			c.opts = ProsodyOptions{DisableNagle: true, EnableOffline: true, Debug: true,
				ExtraModules: []string{"csi_simple", "smacks"}, ExtraConfig: "smacks_hibernation_time = 5"}
		},
			[]string{"c2s_direct_tls_ports = { 1003 }", "network_settings = { nagle = false }",
				`modules_disabled = { "s2s" }`, `"csi_simple"`, "smacks_hibernation_time = 5", `debug = "/t/prosody.log"`},
			[]string{`"offline"`, `"smacks"; "pep"; "carbons"; "csi_simple"; "smacks"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			tc.mod(&c)
			text, err := c.render()
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(text, w) {
					t.Errorf("config lacks %q:\n%s", w, text)
				}
			}
			for _, d := range tc.deny {
				if strings.Contains(text, d) {
					t.Errorf("config contains %q:\n%s", d, text)
				}
			}
		})
	}
	bad := base
	bad.opts.ExtraModules = []string{"bad\nname"}
	if _, err := bad.render(); err == nil {
		t.Error("render accepted a module name with a newline")
	}
}
