package exi

import (
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"github.com/xiot/xiot/exi/schema"
)

// Typed values of schema-informed streams (EXI §7.1). A value is checked
// (checkTyped) before its event code is chosen, because in non-strict mode
// an invalid value is encoded as an untyped string through another
// production; writeTyped then writes a value known to be valid.

// dtString is the datatype index of untyped (String) values.
const dtString = -1

// lexicalSets are the restricted character sets of Preserve.lexicalValues
// (EXI §7.1, Table 7-2), by representation; nil means unrestricted.
var lexicalSets = map[schema.Representation][]rune{
	schema.RepBinaryBase64:    runeSet("\t\n\r +/0123456789=ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"),
	schema.RepBinaryHex:       runeSet("\t\n\r 0123456789ABCDEFabcdef"),
	schema.RepBoolean:         runeSet("\t\n\r 01aeflrstu"),
	schema.RepDateTime:        runeSet("\t\n\r +-.0123456789:TZ"),
	schema.RepDecimal:         runeSet("\t\n\r +-.0123456789"),
	schema.RepFloat:           runeSet("\t\n\r +-.0123456789EFINae"),
	schema.RepInteger:         runeSet("\t\n\r +-0123456789"),
	schema.RepUnsignedInteger: runeSet("\t\n\r +-0123456789"),
	schema.RepNBitInteger:     runeSet("\t\n\r +-0123456789"),
}

func runeSet(s string) []rune {
	rs := []rune(s)
	slices.Sort(rs)
	return rs
}

// lexicalSet returns the character set a value of datatype dt uses with
// Preserve.lexicalValues.
func lexicalSet(dts []schema.Datatype, dt int) []rune {
	if dt < 0 || dt >= len(dts) {
		return nil
	}
	d := &dts[dt]
	switch d.Rep {
	case schema.RepString:
		return nil // pattern-derived sets are not used for lexical values
	case schema.RepEnumeration:
		if d.EnumBase >= 0 && d.EnumBase != dt {
			return lexicalSet(dts, d.EnumBase)
		}
		return nil
	case schema.RepList:
		if d.Item >= 0 && d.Item != dt {
			return lexicalSet(dts, d.Item)
		}
		return nil
	}
	return lexicalSets[d.Rep]
}

// checkTyped reports whether s is a valid lexical value of datatype dt,
// so that it can be encoded typed.
func checkTyped(dts []schema.Datatype, dt int, s string, depth int) bool {
	if dt < 0 || dt >= len(dts) || depth > 4 {
		return dt == dtString
	}
	d := &dts[dt]
	switch d.Rep {
	case schema.RepString:
		return true
	case schema.RepBinaryBase64, schema.RepBinaryHex:
		_, err := schema.ParseBinary(d.Rep, s)
		return err == nil
	case schema.RepBoolean:
		if d.BooleanPattern {
			_, err := schema.BooleanPatternIndex(s)
			return err == nil
		}
		_, err := schema.ParseBoolean(s)
		return err == nil
	case schema.RepDecimal:
		_, err := schema.ParseDecimal(s)
		return err == nil
	case schema.RepFloat:
		if _, ok := fastFloat(s); ok {
			return true
		}
		_, err := schema.ParseFloat(s)
		return err == nil
	case schema.RepInteger:
		if _, ok := fastInt(s); ok {
			return true
		}
		_, err := schema.ParseInteger(s)
		return err == nil
	case schema.RepUnsignedInteger:
		if v, ok := fastInt(s); ok {
			return v >= 0
		}
		x, err := schema.ParseInteger(s)
		return err == nil && x.Sign() >= 0
	case schema.RepNBitInteger:
		if v, ok := fastInt(s); ok {
			v -= d.NBitMin
			return v >= 0 && v < 1<<uint(d.NBitBits)
		}
		x, err := schema.ParseInteger(s)
		if err != nil || !x.IsInt64() {
			return false
		}
		v := x.Int64() - d.NBitMin
		return v >= 0 && v < 1<<uint(d.NBitBits)
	case schema.RepDateTime:
		_, err := schema.ParseDateTime(d.DateTime, s)
		return err == nil
	case schema.RepEnumeration:
		return enumIndex(dts, d, s) >= 0
	case schema.RepQName:
		if strings.HasPrefix(s, "{") && strings.IndexByte(s, '}') > 0 {
			return true
		}
		_, _, err := schema.ParseQName(s)
		return err == nil
	case schema.RepList:
		for _, it := range schema.ParseList(s) {
			if !checkTyped(dts, d.Item, it, depth+1) {
				return false
			}
		}
		return true
	}
	return false
}

// writeTyped writes a value already accepted by checkTyped. Strings go
// through the string table of ln.
func (e *Encoder) writeTyped(w *bitWriter, ln *localName, dt int, s string) {
	dts := e.sg.dts
	if dt < 0 || dt >= len(dts) {
		e.t.encodeValue(w, &e.opts, ln, s, nil)
		return
	}
	d := &dts[dt]
	if e.opts.Preserve.LexicalValues {
		e.t.encodeValue(w, &e.opts, ln, s, lexicalSet(dts, dt))
		return
	}
	switch d.Rep {
	case schema.RepString:
		if d.WhiteSpace != schema.WSPreserve {
			s = schema.NormalizeSpace(s, d.WhiteSpace)
		}
		e.t.encodeValue(w, &e.opts, ln, s, d.CharSet)
	case schema.RepBinaryBase64, schema.RepBinaryHex:
		b, _ := schema.ParseBinary(d.Rep, s)
		w.writeUint(uint64(len(b)))
		for _, c := range b {
			w.writeNBit(uint64(c), 8)
		}
	case schema.RepBoolean:
		if d.BooleanPattern {
			i, _ := schema.BooleanPatternIndex(s)
			w.writeNBit(uint64(i), 2)
			return
		}
		v, _ := schema.ParseBoolean(s)
		w.writeBool(v)
	case schema.RepDecimal:
		x, _ := schema.ParseDecimal(s)
		w.writeBool(x.Negative)
		writeBigUint(w, x.Integral)
		writeBigUint(w, x.FractionReversed)
	case schema.RepFloat:
		f, ok := fastFloat(s)
		if !ok {
			f, _ = schema.ParseFloat(s)
		}
		writeInt(w, f.Mantissa)
		writeInt(w, f.Exponent)
	case schema.RepInteger:
		if v, ok := fastInt(s); ok {
			writeInt(w, v)
			return
		}
		x, _ := schema.ParseInteger(s)
		writeBigInt(w, x)
	case schema.RepUnsignedInteger:
		if v, ok := fastInt(s); ok {
			w.writeUint(uint64(v))
			return
		}
		x, _ := schema.ParseInteger(s)
		writeBigUint(w, x)
	case schema.RepNBitInteger:
		v, ok := fastInt(s)
		if !ok {
			x, _ := schema.ParseInteger(s)
			v = x.Int64()
		}
		w.writeNBit(uint64(v-d.NBitMin), d.NBitBits)
	case schema.RepDateTime:
		v, _ := schema.ParseDateTime(d.DateTime, s)
		writeDateTime(w, d.DateTime, v)
	case schema.RepEnumeration:
		w.writeNBit(uint64(enumIndex(dts, d, s)), bitsFor(len(d.Enum)))
	case schema.RepQName:
		prefix, uri, local := e.splitQName(s)
		ln2 := e.t.encodeQName(w, uri, local)
		if e.opts.Preserve.Prefixes {
			encodePrefix(w, ln2.uri, prefix)
		}
	case schema.RepList:
		items := schema.ParseList(s)
		w.writeUint(uint64(len(items)))
		for _, it := range items {
			e.writeTyped(w, ln, d.Item, it)
		}
	}
}

// enumIndex returns the index of s among the enumeration values of d,
// comparing numbers by value (1.000 matches 1), or -1.
func enumIndex(dts []schema.Datatype, d *schema.Datatype, s string) int {
	if i := d.EnumIndex(s); i >= 0 {
		return i
	}
	if d.EnumBase < 0 || d.EnumBase >= len(dts) {
		return -1
	}
	key := func(v string) (string, bool) {
		switch dts[d.EnumBase].Rep {
		case schema.RepFloat:
			f, err := schema.ParseFloat(v)
			return f.String(), err == nil
		case schema.RepDecimal:
			x, err := schema.ParseDecimal(v)
			return x.String(), err == nil
		case schema.RepInteger, schema.RepUnsignedInteger, schema.RepNBitInteger:
			x, err := schema.ParseInteger(v)
			if err != nil {
				return "", false
			}
			return x.String(), true
		}
		return "", false
	}
	k, ok := key(s)
	if !ok {
		return -1
	}
	for i, e := range d.Enum {
		if ke, ok := key(e); ok && ke == k {
			return i
		}
	}
	return -1
}

// resolvePrefix maps a prefix to its namespace in the encoder's scope.
func (e *Encoder) resolvePrefix(prefix string) (string, bool) {
	if prefix == "xml" {
		return nsXML, true
	}
	for i := len(e.ns) - 1; i >= 0; i-- {
		if e.ns[i].prefix == prefix {
			return e.ns[i].uri, true
		}
	}
	return "", prefix == ""
}

// fastInt parses the common integer lexical forms (no whitespace, no
// plus sign, fits int64) without allocating.
func fastInt(s string) (int64, bool) {
	if s == "" || len(s) > 19 || s[0] == '+' {
		return 0, false
	}
	v, err := strconv.ParseInt(s, 10, 64)
	return v, err == nil
}

// fastFloat parses the common float lexical forms ([-]digits[.digits],
// at most 18 digits, no exponent, no whitespace) as schema.ParseFloat
// does, without its string handling.
func fastFloat(s string) (schema.Float, bool) {
	i, neg := 0, false
	if len(s) > 0 && s[0] == '-' {
		i, neg = 1, true
	}
	var m int64
	nd, frac, dot := 0, 0, false
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			m = m*10 + int64(c-'0')
			nd++
			if dot {
				frac++
			}
		case c == '.' && !dot:
			dot = true
		default:
			return schema.Float{}, false
		}
	}
	if nd == 0 || nd > 18 {
		return schema.Float{}, false
	}
	exp := -int64(frac)
	for m != 0 && m%10 == 0 {
		m /= 10
		exp++
	}
	if m == 0 {
		exp = 0
	}
	if neg {
		m = -m
	}
	return schema.Float{Mantissa: m, Exponent: exp}, true
}

func writeInt(w *bitWriter, v int64) {
	if v < 0 {
		w.writeBool(true)
		w.writeUint(uint64(-(v + 1)))
		return
	}
	w.writeBool(false)
	w.writeUint(uint64(v))
}

var bigOne = big.NewInt(1)

func writeBigInt(w *bitWriter, x *big.Int) {
	if x.IsInt64() {
		writeInt(w, x.Int64())
		return
	}
	if x.Sign() < 0 {
		w.writeBool(true)
		m := new(big.Int).Neg(x)
		writeBigUint(w, m.Sub(m, bigOne))
		return
	}
	w.writeBool(false)
	writeBigUint(w, x)
}

func writeBigUint(w *bitWriter, x *big.Int) {
	if x.IsUint64() {
		w.writeUint(x.Uint64())
		return
	}
	m := new(big.Int).Set(x)
	low := new(big.Int)
	mask := big.NewInt(0x7f)
	for {
		low.And(m, mask)
		m.Rsh(m, 7)
		b := byte(low.Uint64())
		if m.Sign() == 0 {
			w.writeByte(b)
			return
		}
		w.writeByte(b | 0x80)
	}
}

func writeDateTime(w *bitWriter, k schema.DateTimeKind, v schema.DateTime) {
	switch k {
	case schema.GYear, schema.GYearMonth, schema.Date, schema.DateTimeFull:
		writeInt(w, v.Year-2000)
	}
	switch k {
	case schema.GYearMonth, schema.Date, schema.DateTimeFull, schema.GMonth, schema.GMonthDay, schema.GDay:
		w.writeNBit(uint64(v.MonthDay()), 9)
	}
	if k == schema.DateTimeFull || k == schema.Time {
		w.writeNBit(uint64(v.TimeValue()), 17)
		f, ok, _ := v.FracReversed()
		w.writeBool(ok)
		if ok {
			w.writeUint(f)
		}
	}
	w.writeBool(v.HasTZ)
	if v.HasTZ {
		w.writeNBit(uint64(v.TZValue()), 11)
	}
}

// readTyped decodes a value of datatype dt and returns its lexical form.
func (d *Decoder) readTyped(ln *localName, dt int, depth int) (string, error) {
	dts := d.sg.dts
	r := &d.r
	if dt < 0 || dt >= len(dts) {
		return d.t.decodeValue(r, &d.opts, ln, nil)
	}
	dd := &dts[dt]
	if d.opts.Preserve.LexicalValues {
		return d.t.decodeValue(r, &d.opts, ln, lexicalSet(dts, dt))
	}
	switch dd.Rep {
	case schema.RepString:
		return d.t.decodeValue(r, &d.opts, ln, dd.CharSet)
	case schema.RepBinaryBase64, schema.RepBinaryHex:
		n, err := r.readUint()
		if err != nil {
			return "", err
		}
		if max := d.lim.MaxValueLength; n > uint64(max) {
			return "", r.fail(&LimitError{Limit: "MaxValueLength", Value: int64(n), Max: int64(max)})
		}
		b := make([]byte, n)
		for i := range b {
			v, err := r.readNBit(8)
			if err != nil {
				return "", err
			}
			b[i] = byte(v)
		}
		return schema.FormatBinary(dd.Rep, b), nil
	case schema.RepBoolean:
		if dd.BooleanPattern {
			v, err := r.readNBit(2)
			return schema.FormatBooleanPattern(int(v)), err
		}
		v, err := r.readBool()
		if v {
			return "true", err
		}
		return "false", err
	case schema.RepDecimal:
		neg, err := r.readBool()
		if err != nil {
			return "", err
		}
		ip, err := d.readBigUint()
		if err != nil {
			return "", err
		}
		fp, err := d.readBigUint()
		if err != nil {
			return "", err
		}
		return schema.Decimal{Negative: neg, Integral: ip, FractionReversed: fp}.String(), nil
	case schema.RepFloat:
		m, err := d.readInt()
		if err != nil {
			return "", err
		}
		x, err := d.readInt()
		if err != nil {
			return "", err
		}
		return schema.Float{Mantissa: m, Exponent: x}.String(), nil
	case schema.RepInteger:
		neg, err := r.readBool()
		if err != nil {
			return "", err
		}
		m, err := d.readBigUint()
		if err != nil {
			return "", err
		}
		if neg {
			m.Add(m, bigOne).Neg(m)
		}
		return m.String(), nil
	case schema.RepUnsignedInteger:
		m, err := d.readBigUint()
		if err != nil {
			return "", err
		}
		return m.String(), nil
	case schema.RepNBitInteger:
		v, err := r.readNBit(dd.NBitBits)
		if err != nil {
			return "", err
		}
		return strconv.FormatInt(int64(v)+dd.NBitMin, 10), nil
	case schema.RepDateTime:
		return d.readDateTime(dd.DateTime)
	case schema.RepEnumeration:
		v, err := r.readNBit(bitsFor(len(dd.Enum)))
		if err != nil {
			return "", err
		}
		if v >= uint64(len(dd.Enum)) {
			return "", r.fail(fmt.Errorf("enumeration index %d of %d: %w", v, len(dd.Enum), ErrMalformed))
		}
		if eb := dd.EnumBase; eb >= 0 && eb < len(dts) && dts[eb].Rep == schema.RepFloat {
			if f, err := schema.ParseFloat(dd.Enum[v]); err == nil {
				return f.String(), nil
			}
		}
		return dd.Enum[v], nil
	case schema.RepQName:
		ln2, err := d.t.decodeQName(r)
		if err != nil {
			return "", err
		}
		var tp event
		tp.ln = ln2
		if err := d.prefix(&tp); err != nil {
			return "", err
		}
		if tp.prefix != "" {
			return tp.prefix + ":" + ln2.name, nil
		}
		if d.opts.Preserve.Prefixes || ln2.uri.name == "" {
			return ln2.name, nil
		}
		return "{" + ln2.uri.name + "}" + ln2.name, nil
	case schema.RepList:
		n, err := r.readUint()
		if err != nil {
			return "", err
		}
		if n > uint64(d.lim.MaxValueLength) || depth > 4 {
			return "", r.fail(&LimitError{Limit: "MaxValueLength", Value: int64(n), Max: int64(d.lim.MaxValueLength)})
		}
		var b strings.Builder
		for i := uint64(0); i < n; i++ {
			s, err := d.readTyped(ln, dd.Item, depth+1)
			if err != nil {
				return "", err
			}
			b.WriteString(s)
			b.WriteByte(' ') // the reference decoder ends every item with a space
		}
		return b.String(), nil
	}
	return "", r.fail(fmt.Errorf("datatype representation %v: %w", dd.Rep, ErrUnsupported))
}

func (d *Decoder) readInt() (int64, error) {
	neg, err := d.r.readBool()
	if err != nil {
		return 0, err
	}
	v, err := d.r.readUint()
	if err != nil {
		return 0, err
	}
	if neg {
		return -int64(v) - 1, nil
	}
	return int64(v), nil
}

// readBigUint reads an unsigned integer of any size (bounded by
// MaxValueLength groups).
func (d *Decoder) readBigUint() (*big.Int, error) {
	var v uint64
	var shift uint
	var x *big.Int
	for i := 0; ; i++ {
		b, err := d.r.readByte()
		if err != nil {
			return nil, err
		}
		if i > d.lim.MaxValueLength {
			return nil, d.r.fail(&LimitError{Limit: "MaxValueLength", Value: int64(i), Max: int64(d.lim.MaxValueLength)})
		}
		if x == nil && shift <= 56 {
			v |= uint64(b&0x7f) << shift
		} else {
			if x == nil {
				x = new(big.Int).SetUint64(v)
			}
			x.Or(x, new(big.Int).Lsh(big.NewInt(int64(b&0x7f)), shift))
		}
		shift += 7
		if b < 0x80 {
			break
		}
	}
	if x == nil {
		return new(big.Int).SetUint64(v), nil
	}
	return x, nil
}

func (d *Decoder) readDateTime(k schema.DateTimeKind) (string, error) {
	var v schema.DateTime
	r := &d.r
	switch k {
	case schema.GYear, schema.GYearMonth, schema.Date, schema.DateTimeFull:
		y, err := d.readInt()
		if err != nil {
			return "", err
		}
		v.Year = y + 2000
	}
	switch k {
	case schema.GYearMonth, schema.Date, schema.DateTimeFull, schema.GMonth, schema.GMonthDay, schema.GDay:
		md, err := r.readNBit(9)
		if err != nil {
			return "", err
		}
		v.Month, v.Day = int(md/32), int(md%32)
	}
	if k == schema.DateTimeFull || k == schema.Time {
		t, err := r.readNBit(17)
		if err != nil {
			return "", err
		}
		v.Hour, v.Minute, v.Second = int(t/4096), int(t/64%64), int(t%64)
		has, err := r.readBool()
		if err != nil {
			return "", err
		}
		if has {
			f, err := r.readUint()
			if err != nil {
				return "", err
			}
			v.Frac = reverseDigits(strconv.FormatUint(f, 10))
		}
	}
	has, err := r.readBool()
	if err != nil {
		return "", err
	}
	if has {
		tz, err := r.readNBit(11)
		if err != nil {
			return "", err
		}
		x := int(tz) - 896
		v.HasTZ = true
		v.TZMinutes = x/64*60 + x%64
	}
	return schema.FormatDateTime(k, v), nil
}

func reverseDigits(s string) string {
	b := []byte(s)
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return string(b)
}
