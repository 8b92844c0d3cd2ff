package exi

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func TestDbgEncode(t *testing.T) {
	p := os.Getenv("DBG_VEC")
	if p == "" {
		t.Skip()
	}
	var v vectorJSON
	b, _ := os.ReadFile(p)
	json.Unmarshal(b, &v)
	dir := filepath.Dir(p)
	x, _ := os.ReadFile(filepath.Join(dir, v.Files.XML))
	got, err := EncodeXML(x, v.options())
	want, _ := os.ReadFile(filepath.Join(dir, v.Files.EXI))
	t.Logf("err %v\ngot  %s\nwant %s", err, hex.EncodeToString(got), hex.EncodeToString(want))
}
