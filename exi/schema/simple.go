package schema

import (
	"math/big"
	"strings"
)

// builtinBases lists the XML Schema built-in simple types with their base
// type, in derivation order (a base before its derivatives).
var builtinBases = [][2]string{
	{"anySimpleType", ""},
	{"string", "anySimpleType"}, {"boolean", "anySimpleType"}, {"decimal", "anySimpleType"},
	{"float", "anySimpleType"}, {"double", "anySimpleType"}, {"duration", "anySimpleType"},
	{"dateTime", "anySimpleType"}, {"time", "anySimpleType"}, {"date", "anySimpleType"},
	{"gYearMonth", "anySimpleType"}, {"gYear", "anySimpleType"}, {"gMonthDay", "anySimpleType"},
	{"gDay", "anySimpleType"}, {"gMonth", "anySimpleType"}, {"hexBinary", "anySimpleType"},
	{"base64Binary", "anySimpleType"}, {"anyURI", "anySimpleType"}, {"QName", "anySimpleType"},
	{"NOTATION", "anySimpleType"},
	{"normalizedString", "string"}, {"token", "normalizedString"}, {"language", "token"},
	{"Name", "token"}, {"NMTOKEN", "token"}, {"NCName", "Name"}, {"ID", "NCName"},
	{"IDREF", "NCName"}, {"ENTITY", "NCName"},
	{"integer", "decimal"}, {"nonPositiveInteger", "integer"}, {"negativeInteger", "nonPositiveInteger"},
	{"long", "integer"}, {"int", "long"}, {"short", "int"}, {"byte", "short"},
	{"nonNegativeInteger", "integer"}, {"unsignedLong", "nonNegativeInteger"},
	{"unsignedInt", "unsignedLong"}, {"unsignedShort", "unsignedInt"}, {"unsignedByte", "unsignedShort"},
	{"positiveInteger", "nonNegativeInteger"},
	{"IDREFS", "IDREF"}, {"ENTITIES", "ENTITY"}, {"NMTOKENS", "NMTOKEN"}, // lists of the named item
}

// integerBounds gives the value-space bounds of the built-in integer types.
var integerBounds = map[string][2]string{
	"nonPositiveInteger": {"", "0"}, "negativeInteger": {"", "-1"},
	"long": {"-9223372036854775808", "9223372036854775807"}, "int": {"-2147483648", "2147483647"},
	"short": {"-32768", "32767"}, "byte": {"-128", "127"},
	"nonNegativeInteger": {"0", ""}, "unsignedLong": {"0", "18446744073709551615"},
	"unsignedInt": {"0", "4294967295"}, "unsignedShort": {"0", "65535"}, "unsignedByte": {"0", "255"},
	"positiveInteger": {"1", ""},
}

// addBuiltins creates the built-in types (anyType and the simple types).
func (c *compiler) addBuiltins() error {
	at := c.newType(QName{NSXSD, "anyType"}, nil, true)
	at.builtin, at.state = true, 2
	at.wild = &xWild{any: true}
	at.content = contentMixed
	at.particle = &xParticle{min: 0, max: unbounded, wild: &xWild{any: true}}
	c.types[at.name] = at
	for _, bb := range builtinBases {
		name, baseName := bb[0], bb[1]
		t := c.newType(QName{NSXSD, name}, nil, false)
		t.builtin, t.state = true, 2
		c.types[t.name] = t
		si := &simpleInfo{builtin: name, ws: WSCollapse}
		if baseName == "" {
			t.base = at
			si.ws = WSPreserve
		} else {
			t.base = c.types[QName{NSXSD, baseName}]
			b := t.base.si
			si.min, si.max, si.integer = b.min, b.max, b.integer
			si.ws = b.ws
		}
		switch name {
		case "string":
			si.ws = WSPreserve
		case "normalizedString":
			si.ws = WSReplace
		case "token", "decimal", "boolean", "float", "double", "duration", "dateTime", "time", "date",
			"gYearMonth", "gYear", "gMonthDay", "gDay", "gMonth", "hexBinary", "base64Binary", "anyURI",
			"QName", "NOTATION":
			si.ws = WSCollapse
		case "integer":
			si.integer = true
		}
		if b, ok := integerBounds[name]; ok {
			if b[0] != "" {
				si.min, _ = new(big.Int).SetString(b[0], 10)
			}
			if b[1] != "" {
				si.max, _ = new(big.Int).SetString(b[1], 10)
			}
		}
		if strings.HasSuffix(name, "S") && (name == "IDREFS" || name == "ENTITIES" || name == "NMTOKENS") {
			item := t.base
			si = &simpleInfo{builtin: name, variety: list, item: item, ws: WSCollapse}
			t.base = c.types[QName{NSXSD, "anySimpleType"}]
		}
		t.si = si
		dt, err := c.datatypeFor(t, si)
		if err != nil {
			return err
		}
		t.dt = dt
	}
	return nil
}

// resolveSimple computes the facets and datatype of a simpleType node.
func (c *compiler) resolveSimple(t *xType) error {
	n := t.node
	switch {
	case n.kid("restriction") != nil:
		r := n.kid("restriction")
		var base *xType
		var err error
		if b := r.attrs["base"]; b != "" {
			q, err := r.resolveQName(b)
			if err != nil {
				return err
			}
			if base, err = c.typeByName(q, r); err != nil {
				return err
			}
		} else if st := r.kid("simpleType"); st != nil {
			base = c.anonType(st)
		} else {
			return c.errf(r, "restriction without base")
		}
		if err = c.resolve(base); err != nil {
			return err
		}
		if base.si == nil {
			return c.errf(r, "simple type restricts complex type %s", base.name)
		}
		t.base = base
		if t.si, err = c.applyFacets(base.si, r); err != nil {
			return err
		}
	case n.kid("list") != nil:
		l := n.kid("list")
		var item *xType
		var err error
		if it := l.attrs["itemType"]; it != "" {
			q, err := l.resolveQName(it)
			if err != nil {
				return err
			}
			if item, err = c.typeByName(q, l); err != nil {
				return err
			}
		} else if st := l.kid("simpleType"); st != nil {
			item = c.anonType(st)
		} else {
			return c.errf(l, "list without item type")
		}
		if err = c.resolve(item); err != nil {
			return err
		}
		if item.si == nil {
			return c.errf(l, "list of complex type")
		}
		t.base = c.types[QName{NSXSD, "anySimpleType"}]
		t.si = &simpleInfo{builtin: "anySimpleType", variety: list, item: item, ws: WSCollapse}
	case n.kid("union") != nil:
		u := n.kid("union")
		for _, m := range strings.Fields(u.attrs["memberTypes"]) {
			q, err := u.resolveQName(m)
			if err != nil {
				return err
			}
			mt, err := c.typeByName(q, u)
			if err != nil {
				return err
			}
			if err := c.resolve(mt); err != nil {
				return err
			}
		}
		for _, st := range u.kids("simpleType") {
			if err := c.resolve(c.anonType(st)); err != nil {
				return err
			}
		}
		t.base = c.types[QName{NSXSD, "anySimpleType"}]
		t.si = &simpleInfo{builtin: "anySimpleType", variety: union, ws: WSCollapse}
	default:
		return c.errf(n, "simpleType without restriction, list or union")
	}
	dt, err := c.datatypeFor(t, t.si)
	t.dt = dt
	return err
}

// applyFacets derives the facet state of a restriction from its base.
func (c *compiler) applyFacets(b *simpleInfo, r *node) (*simpleInfo, error) {
	si := *b
	si.enumOwn = false
	var enum, patterns []string
	for _, f := range r.children {
		if f.name.URI != NSXSD {
			continue
		}
		v := f.attrs["value"]
		switch f.name.Local {
		case "enumeration":
			enum = append(enum, v)
		case "pattern":
			patterns = append(patterns, v)
		case "whiteSpace":
			switch v {
			case "preserve":
				si.ws = WSPreserve
			case "replace":
				si.ws = WSReplace
			case "collapse":
				si.ws = WSCollapse
			}
		case "minInclusive", "minExclusive", "maxInclusive", "maxExclusive":
			if !si.integer {
				continue
			}
			x, ok := new(big.Int).SetString(strings.TrimPrefix(strings.TrimSpace(v), "+"), 10)
			if !ok {
				continue // not an integer literal (e.g. "1.0"); ignore
			}
			switch f.name.Local {
			case "minExclusive":
				x.Add(x, big.NewInt(1))
				fallthrough
			case "minInclusive":
				if si.min == nil || x.Cmp(si.min) > 0 {
					si.min = x
				}
			case "maxExclusive":
				x.Sub(x, big.NewInt(1))
				fallthrough
			case "maxInclusive":
				if si.max == nil || x.Cmp(si.max) < 0 {
					si.max = x
				}
			}
		}
	}
	if len(enum) > 0 {
		si.enum, si.enumOwn = enum, true
	}
	if len(patterns) > 0 {
		si.patterns = append(append([][]string(nil), b.patterns...), patterns)
	}
	return &si, nil
}

// datatypeFor appends the Datatype of a simple type (or simple content).
func (c *compiler) datatypeFor(t *xType, si *simpleInfo) (int, error) {
	d := Datatype{Name: t.name, Builtin: QName{NSXSD, si.builtin}, EnumBase: -1, Item: -1, WhiteSpace: si.ws}
	if si.variety == list {
		d.Builtin = QName{NSXSD, "anySimpleType"}
		if err := c.resolve(si.item); err != nil {
			return 0, err
		}
	}
	fam := family(si.builtin)
	switch {
	case si.variety == union:
		d.Rep, d.Union = RepString, true
	case len(si.enum) > 0 && fam != "QName" && si.variety != list:
		// enumerations of list types use the List representation (EXI §7.2)
		d.Rep = RepEnumeration
		for _, e := range si.enum {
			d.Enum = append(d.Enum, NormalizeSpace(e, si.ws))
		}
		base := *si
		base.enum = nil
		bt := &xType{}
		if t.base != nil {
			bt.name = QName{}
		}
		eb, err := c.datatypeFor(bt, &base)
		if err != nil {
			return 0, err
		}
		d.EnumBase = eb
	case si.variety == list:
		d.Rep, d.Item = RepList, si.item.dt
	default:
		switch fam {
		case "boolean":
			d.Rep = RepBoolean
			d.BooleanPattern = len(si.patterns) > 0
		case "base64Binary":
			d.Rep = RepBinaryBase64
		case "hexBinary":
			d.Rep = RepBinaryHex
		case "decimal":
			d.Rep = RepDecimal
		case "float", "double":
			d.Rep = RepFloat
		case "integer":
			d.Rep = RepInteger
			if si.min != nil && si.max != nil {
				r := new(big.Int).Sub(si.max, si.min)
				if r.Sign() >= 0 && r.Cmp(big.NewInt(4096)) < 0 && si.min.IsInt64() {
					d.Rep, d.NBitMin = RepNBitInteger, si.min.Int64()
					for (1 << d.NBitBits) <= r.Int64() {
						d.NBitBits++
					}
					break
				}
			}
			if si.min != nil && si.min.Sign() >= 0 {
				d.Rep = RepUnsignedInteger
			}
		case "dateTime", "time", "date", "gYearMonth", "gYear", "gMonthDay", "gDay", "gMonth":
			d.Rep = RepDateTime
			d.DateTime = map[string]DateTimeKind{"dateTime": DateTimeFull, "time": Time, "date": Date,
				"gYearMonth": GYearMonth, "gYear": GYear, "gMonthDay": GMonthDay, "gDay": GDay, "gMonth": GMonth}[fam]
		default:
			d.Rep = RepString
			d.CharSet = restrictedCharSet(si.patterns)
		}
	}
	c.g.Datatypes = append(c.g.Datatypes, d)
	return len(c.g.Datatypes) - 1, nil
}

// family maps a built-in type to the primitive (or integer) it derives from.
func family(builtin string) string {
	for {
		switch builtin {
		case "", "anySimpleType", "string", "boolean", "decimal", "float", "double", "duration", "dateTime",
			"time", "date", "gYearMonth", "gYear", "gMonthDay", "gDay", "gMonth", "hexBinary",
			"base64Binary", "anyURI", "QName", "NOTATION", "integer":
			return builtin
		}
		found := false
		for _, bb := range builtinBases {
			if bb[0] == builtin {
				builtin, found = bb[1], true
				break
			}
		}
		if !found {
			return "string"
		}
	}
}
