package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// exported returns c without its source bookkeeping, for comparisons.
func exported(c *Config) Config {
	cp := *c
	cp.src = sources{}
	return cp
}

func TestExampleParses(t *testing.T) {
	c, err := Decode("example.yaml", []byte(ExampleYAML()))
	if err != nil {
		t.Fatalf("example.yaml does not load: %v", err)
	}
	if w := c.Warnings(); len(w) != 0 {
		t.Errorf("example.yaml has warnings: %q", w)
	}
	// The example documents the defaults: apart from the account it sets,
	// it must agree with Default.
	got, def := exported(c), exported(Default())
	got.Account, def.Account = Account{}, Account{}
	if !reflect.DeepEqual(got, def) {
		t.Errorf("example.yaml disagrees with Default():\nexample:\n%s\ndefault:\n%s", &got, &def)
	}
}

// TestExampleDocumentsEveryKey checks that every key of the schema appears
// in example.yaml, so new sections cannot go undocumented.
func TestExampleDocumentsEveryKey(t *testing.T) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(Default().String()), &doc); err != nil {
		t.Fatal(err)
	}
	var keys []string
	var walk func(n *yaml.Node, prefix string)
	walk = func(n *yaml.Node, prefix string) {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := joinKey(prefix, n.Content[i].Value)
			keys = append(keys, k)
			if n.Content[i+1].Kind == yaml.MappingNode {
				walk(n.Content[i+1], k)
			}
		}
	}
	walk(doc.Content[0], "")
	example := ExampleYAML()
	for _, k := range keys {
		leaf := k[strings.LastIndex(k, ".")+1:]
		if !strings.Contains(example, leaf+":") {
			t.Errorf("example.yaml does not document %s", k)
		}
	}
	if len(keys) < 20 {
		t.Errorf("found only %d keys: %v", len(keys), keys)
	}
}

func TestRoundTrip(t *testing.T) {
	inputs := map[string]string{
		"example": ExampleYAML(),
		"custom": `account:
  jid: d@example.org/kitchen
  password_file: /etc/xiot/pw
  server: "[2001:db8::1]:5223"
  direct_tls: true
  priority: -3
  owners: [alice@example.org, bob@example.org]
component: {domain: reg.example.org, server: "localhost:5347", secret_file: /etc/xiot/c}
board: sim
log: {level: debug, format: json}
xmpp: {keepalive: 1500ms, reconnect_min: 2s, reconnect_max: 90m, resume_timeout: 0s, stream_management: false, max_stanza_bytes: 10000}
state_dir: /tmp/xiot
`,
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			c1, err := Decode("a.yaml", []byte(in))
			if err != nil {
				t.Fatal(err)
			}
			out := c1.String()
			c2, err := Decode("b.yaml", []byte(out))
			if err != nil {
				t.Fatalf("re-reading the output failed: %v\n%s", err, out)
			}
			if !reflect.DeepEqual(exported(c1), exported(c2)) {
				t.Errorf("round trip changed the configuration:\nfirst:\n%s\nsecond:\n%s", c1, c2)
			}
			if out2 := c2.String(); out2 != out {
				t.Errorf("output not stable:\n%s\nvs\n%s", out, out2)
			}
		})
	}
}

func TestFormatDuration(t *testing.T) {
	for in, want := range map[string]string{"0s": "0s", "300s": "5m", "2h": "2h", "90s": "90s", "1500ms": "1.5s", "61m": "61m"} {
		c, err := Decode("d.yaml", []byte("xmpp:\n  resume_timeout: "+in+"\n"))
		if err != nil {
			t.Fatal(err)
		}
		if got := formatDuration(c.XMPP.ResumeTimeout); got != want {
			t.Errorf("formatDuration(%s) = %q, want %q", in, got, want)
		}
	}
}

// Example shows the startup sequence of a daemon: load the file, apply
// command-line overrides, check the machine-dependent parts, read the
// password.
func Example() {
	dir, err := os.MkdirTemp("", "xiot-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "xiot.yaml")
	_ = os.WriteFile(path, []byte("account:\n  jid: device@example.org\n  password_file: password\nboard: sim\n"), 0o644)
	_ = os.WriteFile(filepath.Join(dir, "password"), []byte("s3cret\n"), 0o600)

	cfg, err := Load(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := cfg.ApplyFlags(Overrides{Server: "localhost:5222"}); err != nil {
		fmt.Println(err)
		return
	}
	if err := cfg.Preflight(); err != nil {
		fmt.Println(err)
		return
	}
	pw, _ := cfg.Password()
	fmt.Println(cfg.Account.JID, cfg.Account.Server, cfg.Board, len(pw))
	// Output: device@example.org/xiot localhost:5222 sim 6
}

// ExampleDecode_error shows how problems are reported.
func ExampleDecode_error() {
	_, err := Decode("xiot.yaml", []byte("account:\n  jid: device@example.org\n  prority: 5\nboard: pi\n"))
	fmt.Println(err)
	// Output:
	// xiot.yaml:3: account.prority: unknown key (did you mean "priority"?)
	// xiot.yaml:4: board: must be auto, sim or none, not "pi"
}
