package config

import (
	"os"
	"strings"
	"testing"
)

// docHeader opens docs/configuration.md; the example follows in a fenced
// block.
const docHeader = "# Configuration reference\n\n" +
	"Every key of the configuration file, with its default and what it does. This page is\n" +
	"`xiot config example` verbatim (a test keeps the two equal; regenerate it with\n" +
	"`XIOT_UPDATE_DOCS=1 go test ./internal/config -run TestConfigurationReference`).\n" +
	"Check a file with `xiot config check FILE`; errors name the file, the line and the key.\n\n"

// TestConfigurationReference keeps docs/configuration.md equal to the
// commented example, which TestExampleDocumentsEveryKey keeps complete.
func TestConfigurationReference(t *testing.T) {
	want := docHeader + "```yaml\n" + ExampleYAML() + "```\n"
	const path = "../../docs/configuration.md"
	if os.Getenv("XIOT_UPDATE_DOCS") != "" {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (regenerate with XIOT_UPDATE_DOCS=1)", err)
	}
	if string(got) != want {
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		line := strings.Count(want[:i], "\n") + 1
		t.Errorf("%s is out of date from line %d on; regenerate it: XIOT_UPDATE_DOCS=1 go test ./internal/config -run TestConfigurationReference", path, line)
	}
}
