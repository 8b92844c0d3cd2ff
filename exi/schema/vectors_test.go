package schema

import (
	"os"
	"path/filepath"
	"testing"
)

const vectors = "/work/shared/exi-vectors"

// vectorSchemas are the schemas the EXI test vectors use (the "schema"
// field of their json files).
var vectorSchemas = []string{
	"schemas/sensordata.xsd",
	"schemas/xiot.xsd",
	"w3c/schemas/builtInGrammar/element/incomplete.xsd",
	"w3c/schemas/datatypes/binary/binary.xsd",
	"w3c/schemas/datatypes/boolean/boolean.xsd",
	"w3c/schemas/datatypes/datetime/dateTime.xsd",
	"w3c/schemas/datatypes/decimal/decimal.xsd",
	"w3c/schemas/datatypes/dtrm/enumerationDTRM.xsd",
	"w3c/schemas/datatypes/dtrm/listDTRM.xsd",
	"w3c/schemas/datatypes/dtrm/unionDTRM.xsd",
	"w3c/schemas/datatypes/enumeration/enumeration.xsd",
	"w3c/schemas/datatypes/enumeration/enumerationOfList.xsd",
	"w3c/schemas/datatypes/float/float.xsd",
	"w3c/schemas/datatypes/integer/integer.xsd",
	"w3c/schemas/datatypes/list/list.xsd",
	"w3c/schemas/datatypes/nbitInteger/nbitInteger.xsd",
	"w3c/schemas/datatypes/qname/qname.xsd",
	"w3c/schemas/datatypes/rcs/restrictedCharacterSets.xsd",
	"w3c/schemas/datatypes/rcs/xmlschema/DataTypes_w3c.xml.patterns.xsd",
	"w3c/schemas/datatypes/rcs/xmlschema/NISTXMLSchemaDatatypes.testSet.patterns.xsd",
	"w3c/schemas/datatypes/rcs/xmlschema/SType.testSet.patterns.xsd",
	"w3c/schemas/datatypes/rcs/xmlschema/SimpleType_w3c.xml.patterns.xsd",
	"w3c/schemas/datatypes/string/string_pattern001.xsd",
	"w3c/schemas/datatypes/unsignedInteger/unsignedInteger.xsd",
	"w3c/schemas/schemaInformedGrammar/acceptance.xsd",
	"w3c/schemas/schemaInformedGrammar/declaredProductions/document.xsd",
	"w3c/schemas/schemaInformedGrammar/declaredProductions/duplicateTerminals-01.xsd",
	"w3c/schemas/schemaInformedGrammar/declaredProductions/duplicateTerminals-02.xsd",
	"w3c/schemas/schemaInformedGrammar/declaredProductions/elementFragment.xsd",
	"w3c/schemas/schemaInformedGrammar/declaredProductions/fragment-a.xsd",
	"w3c/schemas/schemaInformedGrammar/declaredProductions/fragment-b.xsd",
	"w3c/schemas/schemaInformedGrammar/declaredProductions/particle.xsd",
	"w3c/schemas/schemaInformedGrammar/undeclaredProductions/union.xsd",
}

// TestVectorSchemas compiles every schema the test vectors use and checks
// basic invariants of the result.
func TestVectorSchemas(t *testing.T) {
	if _, err := os.Stat(vectors); err != nil {
		t.Skip("test vectors not present:", err)
	}
	for _, s := range vectorSchemas {
		t.Run(s, func(t *testing.T) {
			g, err := Compile(filepath.Join(vectors, s))
			if err != nil {
				t.Fatal(err)
			}
			if len(g.GlobalElements) == 0 {
				t.Error("no global elements")
			}
			checkInvariants(t, g)
		})
	}
}

// checkInvariants verifies that every production points inside its
// grammar and at valid declarations, and that event codes are ordered.
func checkInvariants(t *testing.T, g *Grammars) {
	t.Helper()
	for gi, gr := range g.Grammars {
		if len(gr.NonTerminals) == 0 {
			t.Fatalf("grammar %d empty", gi)
		}
		for ni, nt := range gr.NonTerminals {
			last := -1
			for _, p := range nt.Productions {
				if p.Next != End && (p.Next < 0 || p.Next >= len(gr.NonTerminals)) {
					t.Fatalf("grammar %d nt %d: next %d out of range", gi, ni, p.Next)
				}
				if p.Event == EventSE && (p.Elem < 0 || p.Elem >= len(g.Elements)) {
					t.Fatalf("grammar %d nt %d: SE without element", gi, ni)
				}
				if (p.Event == EventAT || p.Event == EventCH) && (p.Type < 0 || p.Type >= len(g.Datatypes)) {
					t.Fatalf("grammar %d nt %d: %v without datatype", gi, ni, p.Event)
				}
				r := eventRank(p.Event)
				if r < last {
					t.Fatalf("grammar %d nt %d: productions out of event-code order", gi, ni)
				}
				last = r
			}
		}
	}
}
