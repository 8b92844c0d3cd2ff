package config

import (
	"reflect"
	"strings"
	"testing"

	"github.com/xiot/xiot/exi"
	"github.com/xiot/xiot/internal/xmpp"
)

func TestEXISection(t *testing.T) {
	for _, tc := range []struct {
		name string
		exi  EXI
		err  string
		want xmpp.EXIConfig
	}{
		{name: "default is off", want: xmpp.EXIConfig{}},
		{name: "off", exi: EXI{Mode: "off"}, want: xmpp.EXIConfig{}},
		{name: "negotiate schema-informed compressed", exi: EXI{Mode: "negotiate", SchemaInformed: true, Alignment: "compression", BlockSize: 100},
			want: xmpp.EXIConfig{Mode: xmpp.EXINegotiate, SchemaInformed: true, Alignment: exi.Compression, BlockSize: 100}},
		{name: "alternative", exi: EXI{Mode: "alternative-binding", Server: "gw:15222", Alignment: "byte-alignment", ValueMaxLength: 32},
			want: xmpp.EXIConfig{Mode: xmpp.EXIAlternative, Alignment: exi.ByteAligned, ValueMaxLength: 32}},
		{name: "bad mode", exi: EXI{Mode: "on"}, err: "exi.mode"},
		{name: "alternative without port", exi: EXI{Mode: "alternative-binding"}, err: "exi.server"},
		{name: "bad alignment", exi: EXI{Alignment: "zip"}, err: "exi.alignment"},
		{name: "strict without schema", exi: EXI{Strict: true}, err: "exi.strict"},
		{name: "negative", exi: EXI{ValuePartitionCapacity: -1}, err: "exi.value_partition_capacity"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			c.EXI = tc.exi
			errs := c.checkEXI()
			if tc.err != "" {
				if len(errs) != 1 || !strings.Contains(errs[0].Error(), tc.err) {
					t.Fatalf("got %v, want one error about %s", errs, tc.err)
				}
				return
			}
			if len(errs) != 0 {
				t.Fatal(errs)
			}
			if got := c.EXI.session(); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("session settings %+v, want %+v", got, tc.want)
			}
			if tc.exi.Server != "" && c.server() != tc.exi.Server {
				t.Fatalf("server %q, want the EXI port %q", c.server(), tc.exi.Server)
			}
		})
	}
}
