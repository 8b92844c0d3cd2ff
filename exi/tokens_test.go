package exi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/xiot/xiot/exi/schema"
)

// TestTokenRoundTrip decodes oracle streams with Decoder.Token and feeds
// the tokens to Encoder.EncodeToken: the result must be the oracle's
// bytes again. It exercises the streaming APIs that the vector test (which
// goes through DecodeToXML and EncodeXML) does not.
func TestTokenRoundTrip(t *testing.T) {
	dir := vectorsDir(t)
	xiot, err := schema.CompileFiles(filepath.Join(dir, "schemas", "xiot.xsd"))
	if err != nil {
		t.Fatal(err)
	}
	for _, optset := range []string{"bitpacked", "bytealigned", "precompression", "schema-bitpacked", "schema-bytealigned", "schema-strict"} {
		files, _ := filepath.Glob(filepath.Join(dir, "xiot", "*", "*."+optset+".json"))
		if len(files) == 0 {
			t.Fatalf("no %s vectors", optset)
		}
		for _, jf := range files {
			name := filepath.Base(jf)
			if bytes.HasPrefix([]byte(name), []byte("sensordata-")) {
				continue // compiled with another schema
			}
			t.Run(optset+"/"+name, func(t *testing.T) {
				var v vectorJSON
				b, err := os.ReadFile(jf)
				if err == nil {
					err = json.Unmarshal(b, &v)
				}
				if err != nil {
					t.Fatal(err)
				}
				o := v.options()
				if v.Options.Grammar == "schema-informed" {
					o.Schema = xiot
				}
				want, err := os.ReadFile(filepath.Join(filepath.Dir(jf), v.Files.EXI))
				if err != nil {
					t.Fatal(err)
				}
				d := NewDecoder(bytes.NewReader(want), o)
				var out bytes.Buffer
				e, err := NewEncoder(&out, o)
				if err != nil {
					t.Fatal(err)
				}
				for {
					tok, err := d.Token()
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						t.Fatalf("decode: %v", err)
					}
					if err := e.EncodeToken(tok); err != nil {
						t.Fatalf("encode %T: %v", tok, err)
					}
				}
				if err := e.Close(); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(out.Bytes(), want) {
					t.Errorf("re-encoded %d bytes differ from the oracle's %d at byte %d", out.Len(), len(want), firstDiff(out.Bytes(), want))
				}
			})
		}
	}
}
