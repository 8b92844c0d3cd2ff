package exi

import (
	"fmt"
	"strings"
	"testing"
)

// TestPlainStartReplay encodes schema-less start tags of siblings with
// learned SE productions (plainSE) that repeat the attribute names of
// the one before (plainAttrs' inline path) with short
// and long, new and repeated, ASCII and non-ASCII values, names longer
// than maxShort, attributes in a namespace, value hits in the local and
// the global partition, enough distinct values to grow the value index,
// and start tags that leave the repeated names part-way, under bounded
// and disabled value partitions, a value length limit and small blocks
// (values that end a block inside a start tag); every stream must be
// EncodeXML's bytes (compression: decode to the same document).
func TestPlainStartReplay(t *testing.T) {
	var b strings.Builder
	b.WriteString(`<r xmlns:p='urn:p'>`)
	for i := 0; i < 700; i++ {
		if i%50 == 0 { // a first child in StartTagContent
			fmt.Fprintf(&b, `<g k='%d'>`, i%3)
		}
		name := fmt.Sprintf("f%d", i%37)
		if i%5 == 0 {
			name = "Temperature alarm " + name // longer than maxShort
		}
		val := fmt.Sprintf("%d.%02d", i*7%1000, i%100)
		switch i % 9 {
		case 3:
			val = "°C" // non-ASCII
		case 4:
			val = fmt.Sprintf("2017-04-01T00:%02d:00Z", i%60) // long
		case 5:
			val = ""
		case 6:
			val = name // a global hit from another qname
		}
		unit := []string{"V", "A", "hPa", "kWh", "m³/h"}[i%5]
		// siblings of several names, one longer than maxShort and one in
		// a namespace, some of the same length
		el := []string{"n", "numeric", "boolean", "n", "aVeryLongElementName", "p:n", "n"}[i*i%7]
		switch i % 11 {
		case 7: // one attribute fewer
			fmt.Fprintf(&b, `<%s name='%s' value='%s'/>`, el, name, val)
		case 8: // one attribute more, in a namespace
			fmt.Fprintf(&b, `<%s name='%s' momentary='true' value='%s' unit='%s' p:q='%d'/>`, el, name, val, unit, i%3)
		case 9: // same names, another order
			fmt.Fprintf(&b, `<%s value='%s' name='%s' momentary='true' unit='%s'/>`, el, val, name, unit)
		case 10: // a name longer than maxShort
			fmt.Fprintf(&b, `<%s name='%s' automaticReadoutX='true' value='%s' unit='%s'/>`, el, name, val, unit)
		default:
			fmt.Fprintf(&b, `<%s name='%s' momentary='true' value='%s' unit='%s'/>`, el, name, val, unit)
		}
		if i%50 == 49 {
			b.WriteString(`</g>`)
		}
	}
	b.WriteString(`</r>`)
	doc := []byte(b.String())
	for _, c := range []struct {
		name            string
		vml, vpc, block int
	}{{"unbounded", Unbounded, Unbounded, 0}, {"vpc0", Unbounded, 0, 0}, {"vpc4", Unbounded, 4, 0},
		{"vpc300", Unbounded, 300, 0}, {"vml3", 3, Unbounded, 0}, {"block1", Unbounded, Unbounded, 1},
		{"block16", Unbounded, Unbounded, 16}, {"block150", Unbounded, Unbounded, 150}} {
		for _, al := range []Alignment{BitPacked, ByteAligned, PreCompression, Compression} {
			t.Run(c.name+"/"+al.String(), func(t *testing.T) {
				o := DefaultOptions()
				o.Alignment = al
				o.ValueMaxLength, o.ValuePartitionCapacity, o.BlockSize = c.vml, c.vpc, c.block
				checkTokenPaths(t, doc, o)
			})
		}
	}
}
