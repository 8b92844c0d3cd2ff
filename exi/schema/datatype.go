package schema

// Representation is the EXI built-in datatype representation (§7.1) used
// to encode values of a simple type.
type Representation uint8

// EXI datatype representations.
const (
	RepString          Representation = iota // §7.1.10, optionally with a restricted character set
	RepBinaryBase64                          // §7.1.1 for xs:base64Binary
	RepBinaryHex                             // §7.1.1 for xs:hexBinary
	RepBoolean                               // §7.1.2
	RepDecimal                               // §7.1.3
	RepFloat                                 // §7.1.4 (xs:float and xs:double)
	RepInteger                               // §7.1.5
	RepUnsignedInteger                       // §7.1.6 (lower bound ≥ 0)
	RepNBitInteger                           // §7.1.9 (bounded range < 4096)
	RepDateTime                              // §7.1.8, see Datatype.DateTime
	RepList                                  // §7.1.11, see Datatype.Item
	RepEnumeration                           // §7.2, see Datatype.Enum
	RepQName                                 // §7.1.7
)

var repNames = [...]string{"String", "Binary(base64)", "Binary(hex)", "Boolean", "Decimal", "Float", "Integer",
	"UnsignedInteger", "NBitInteger", "DateTime", "List", "Enumeration", "QName"}

// String names the representation.
func (r Representation) String() string {
	if int(r) < len(repNames) {
		return repNames[r]
	}
	return "Representation?"
}

// DateTimeKind says which components a Date-Time value has (§7.1.8).
type DateTimeKind uint8

// Date-Time kinds, one per XML Schema date/time type.
const (
	GYear DateTimeKind = iota
	GYearMonth
	Date
	DateTimeFull // xs:dateTime
	GMonth
	GMonthDay
	GDay
	Time
)

var dtNames = [...]string{"gYear", "gYearMonth", "date", "dateTime", "gMonth", "gMonthDay", "gDay", "time"}

// String returns the XML Schema type name of the kind.
func (k DateTimeKind) String() string {
	if int(k) < len(dtNames) {
		return dtNames[k]
	}
	return "dateTime?"
}

// WhiteSpace is the whiteSpace facet of a simple type.
type WhiteSpace uint8

// whiteSpace facet values.
const (
	WSPreserve WhiteSpace = iota
	WSReplace
	WSCollapse
)

// Datatype is a simple type as the codec sees it: its EXI representation
// and the facet data that representation needs.
type Datatype struct {
	// Name is the type's name, zero for anonymous types.
	Name QName
	// Builtin is the nearest XML Schema built-in ancestor (the type a
	// datatypeRepresentationMap entry is matched against).
	Builtin QName
	Rep     Representation
	// DateTime is the kind of a RepDateTime value.
	DateTime DateTimeKind
	// NBitMin and NBitBits describe a RepNBitInteger: values are encoded
	// as value-NBitMin in NBitBits bits.
	NBitMin  int64
	NBitBits int
	// Enum holds the enumeration values (lexical, whitespace-normalized)
	// in schema order for RepEnumeration.
	Enum []string
	// EnumBase indexes Grammars.Datatypes: the type the enumeration values
	// belong to (used to compare values); -1 when not applicable.
	EnumBase int
	// Item indexes Grammars.Datatypes for the item type of a RepList; -1
	// otherwise.
	Item int
	// CharSet is the restricted character set derived from pattern facets
	// (§7.1.10.1), sorted by code point; nil when unrestricted.
	CharSet []rune
	// BooleanPattern is true for a boolean with a pattern facet, encoded
	// in 2 bits keeping the lexical form (§7.1.2).
	BooleanPattern bool
	WhiteSpace     WhiteSpace
	// Union is true for union types (represented as String).
	Union bool
}

// CharSetIndex returns the index of r in the restricted character set, or
// -1 when r is not in it (then the codec escapes it, §7.1.10).
func (d *Datatype) CharSetIndex(r rune) int {
	lo, hi := 0, len(d.CharSet)
	for lo < hi {
		m := (lo + hi) / 2
		switch {
		case d.CharSet[m] == r:
			return m
		case d.CharSet[m] < r:
			lo = m + 1
		default:
			hi = m
		}
	}
	return -1
}

// EnumIndex returns the index of the lexical value v in Enum after
// applying the type's whitespace normalization, or -1.
func (d *Datatype) EnumIndex(v string) int {
	v = NormalizeSpace(v, WSCollapse)
	for i, e := range d.Enum {
		if e == v {
			return i
		}
	}
	return -1
}
