package schema

// QName is an expanded name: namespace URI and local name.
type QName struct {
	URI   string
	Local string
}

// String renders the name in James Clark notation, {uri}local.
func (q QName) String() string {
	if q.URI == "" {
		return q.Local
	}
	return "{" + q.URI + "}" + q.Local
}

// Less orders names as EXI does for SE and AT event codes and for the
// string table: by local name, then by URI.
func (q QName) Less(o QName) bool {
	if q.Local != o.Local {
		return q.Local < o.Local
	}
	return q.URI < o.URI
}

// Namespace URIs with a fixed meaning in EXI.
const (
	NSXML = "http://www.w3.org/XML/1998/namespace"
	NSXSI = "http://www.w3.org/2001/XMLSchema-instance"
	NSXSD = "http://www.w3.org/2001/XMLSchema"
)

// EventKind is the terminal symbol of a production (EXI §4, §8.5).
// The order of the constants is the first-level event-code order of
// §8.5.4.4.2 for the kinds that appear in strict grammars.
type EventKind uint8

// Terminal symbols. The kinds after EventCHUntyped only occur in tables
// returned by [Grammars.Table] (undeclared productions, §8.5.4.4.1) and
// in the document and fragment grammars.
const (
	EventAT        EventKind = iota // AT(qname), typed with Production.Type
	EventATNS                       // AT(uri:*), Production.Name.URI
	EventATAny                      // AT(*)
	EventSE                         // SE(qname), Production.Elem
	EventSENS                       // SE(uri:*), Production.Name.URI
	EventSEAny                      // SE(*)
	EventEE                         // EE
	EventCH                         // CH typed with Production.Type
	EventCHUntyped                  // CH [untyped value] (mixed content, deviations)

	EventSD           // SD
	EventED           // ED
	EventATXsiType    // AT(xsi:type)
	EventATXsiNil     // AT(xsi:nil)
	EventATUntyped    // AT(qname) [untyped value] of a declared attribute
	EventATAnyUntyped // AT(*) [untyped value]
	EventNS           // NS
	EventSC           // SC
	EventER           // ER
	EventCM           // CM
	EventPI           // PI
	EventDT           // DT
	eventKindCount
)

var eventNames = [...]string{"AT", "AT(uri:*)", "AT(*)", "SE", "SE(uri:*)", "SE(*)", "EE", "CH", "CH[untyped]",
	"SD", "ED", "AT(xsi:type)", "AT(xsi:nil)", "AT[untyped]", "AT(*)[untyped]", "NS", "SC", "ER", "CM", "PI", "DT"}

// String names the event kind as the EXI specification writes it.
func (k EventKind) String() string {
	if int(k) < len(eventNames) {
		return eventNames[k]
	}
	return "event?"
}

// End is the Next value of a production that ends its grammar (EE, ED).
const End = -1

// Production is one right-hand side of a non-terminal: a terminal and the
// non-terminal (index in the same [Grammar]) that follows it.
type Production struct {
	Event EventKind
	// Name is the qname of AT and SE, or (URI only) of AT(uri:*) and
	// SE(uri:*).
	Name QName
	// Elem indexes Grammars.Elements for SE(qname); -1 otherwise.
	Elem int
	// Type indexes Grammars.Datatypes for AT(qname) and CH; -1 means
	// untyped (String).
	Type int
	// Next is the right-hand-side non-terminal, or End.
	Next int
}

// NonTerminal is a left-hand side with its productions in first-level
// event-code order: the event code of Productions[i] is i.
type NonTerminal struct {
	// StartTag is true for the non-terminals Element_i,j with j ≤ content
	// (the attribute phase), where §8.5.4.4.1 adds AT(*) deviations and
	// where SE(*) and CH deviations go to [Grammar.Content2].
	StartTag    bool
	Productions []Production
}

// Grammar is a normalized schema-informed grammar (Type_i or TypeEmpty_i).
// Non-terminal 0 is the start (Type_i,0).
type Grammar struct {
	NonTerminals []NonTerminal
	// Content2 is the non-terminal that undeclared SE(*) and CH
	// productions of start-tag non-terminals lead to (Element_i,content2).
	Content2 int
}

// TypeDef is a type definition (named or anonymous, simple or complex).
type TypeDef struct {
	Name QName // zero for anonymous types
	// Grammar and Empty index Grammars.Grammars: Type_i and TypeEmpty_i.
	Grammar int
	Empty   int
	// Simple indexes Grammars.Datatypes for a simple type or a complex
	// type with simple content; -1 otherwise.
	Simple int
	// Base indexes Grammars.Types; -1 for anyType.
	Base int
	// Complex is true for complex type definitions.
	Complex bool
	// TypeCastable is true when the type has named sub-types or is a union
	// (strict mode then still allows xsi:type, §8.5.4.4.1).
	TypeCastable bool
}

// ElementDecl is an element declaration (global or local).
type ElementDecl struct {
	Name     QName
	Type     int // index in Grammars.Types
	Nillable bool
	Abstract bool
	Global   bool
}

// Grammars is the compiled form of a schema: everything the EXI codec
// needs, and nothing of XSD.
type Grammars struct {
	Datatypes []Datatype
	Types     []TypeDef
	Elements  []ElementDecl
	Grammars  []Grammar
	// GlobalElements, GlobalTypes and GlobalAttributes map global
	// declarations to Elements, Types and Datatypes indexes.
	GlobalElements   map[QName]int
	GlobalTypes      map[QName]int
	GlobalAttributes map[QName]int
	// Strings is the pre-populated string table (§7.3.1, Appendix D).
	Strings StringTable
	// Schema lists the files the grammars were compiled from; empty for
	// xsd-types-only grammars.
	Schema []string
}

// StringTable is the initial content of the URI, prefix and local-name
// partitions, in compact-identifier order.
type StringTable struct {
	URIs []URIPartition
}

// URIPartition is one URI with its initial prefixes and local names.
type URIPartition struct {
	URI        string
	Prefixes   []string
	LocalNames []string
}
