package exi

import (
	"fmt"
	"reflect"
	"slices"

	"github.com/xiot/xiot/exi/schema"
)

// nsEXI is the EXI namespace; datatype representations are named in it.
const nsEXI = "http://www.w3.org/2009/exi"

// DatatypeRepresentation is one datatypeRepresentationMap entry (EXI
// §7.4): values of Type, and of types derived from it that have no closer
// entry, use the built-in representation Representation ({nsEXI}string,
// {nsEXI}integer, {nsEXI}decimal, ...).
type DatatypeRepresentation struct {
	Type, Representation QName
}

// exiRepresentations maps the local names of the EXI built-in datatype
// representations to a Datatype template.
var exiRepresentations = map[string]schema.Datatype{
	"base64Binary": {Rep: schema.RepBinaryBase64},
	"hexBinary":    {Rep: schema.RepBinaryHex},
	"boolean":      {Rep: schema.RepBoolean},
	"decimal":      {Rep: schema.RepDecimal},
	"double":       {Rep: schema.RepFloat},
	"integer":      {Rep: schema.RepInteger},
	"string":       {Rep: schema.RepString},
	"dateTime":     {Rep: schema.RepDateTime, DateTime: schema.DateTimeFull},
	"date":         {Rep: schema.RepDateTime, DateTime: schema.Date},
	"time":         {Rep: schema.RepDateTime, DateTime: schema.Time},
	"gYearMonth":   {Rep: schema.RepDateTime, DateTime: schema.GYearMonth},
	"gYear":        {Rep: schema.RepDateTime, DateTime: schema.GYear},
	"gMonthDay":    {Rep: schema.RepDateTime, DateTime: schema.GMonthDay},
	"gDay":         {Rep: schema.RepDateTime, DateTime: schema.GDay},
	"gMonth":       {Rep: schema.RepDateTime, DateTime: schema.GMonth},
}

// applyDTRM returns the datatypes of g with the datatypeRepresentationMap
// m applied, or g.Datatypes itself when m is empty.
func applyDTRM(g *schema.Grammars, m []DatatypeRepresentation) ([]schema.Datatype, error) {
	if len(m) == 0 {
		return g.Datatypes, nil
	}
	reps := make(map[QName]schema.Datatype, len(m))
	for _, e := range m {
		d, ok := exiRepresentations[e.Representation.Local]
		if !ok || e.Representation.URI != nsEXI {
			return nil, fmt.Errorf("exi: datatypeRepresentationMap: unknown representation {%s}%s: %w", e.Representation.URI, e.Representation.Local, ErrUnsupported)
		}
		reps[e.Type] = d
	}
	typeOf := make([]int, len(g.Datatypes))
	for i := range typeOf {
		typeOf[i] = -1
	}
	for i, t := range g.Types {
		if t.Simple >= 0 && t.Simple < len(typeOf) && typeOf[t.Simple] < 0 {
			typeOf[t.Simple] = i
		}
	}
	out := slices.Clone(g.Datatypes)
	for i := range out {
		d := &out[i]
		// the closest type in the map: the datatype's own name, then its
		// type's base chain up to the first built-in type (the reference
		// implementation does not look further)
		var rep schema.Datatype
		found := false
		if r, ok := reps[QName(d.Name)]; ok && d.Name.Local != "" {
			rep, found = r, true
		}
		// list and union types are not matched through the built-in
		// anySimpleType, as with the reference implementation (list items
		// keep their own mapping)
		userOnly := d.Rep == schema.RepList || d.Union
		for t, n := typeOf[i], 0; !found && t >= 0 && t < len(g.Types) && n < 64; t, n = g.Types[t].Base, n+1 {
			name := g.Types[t].Name
			if userOnly && name.URI == schema.NSXSD {
				break
			}
			if r, ok := reps[QName(name)]; ok && name.Local != "" {
				rep, found = r, true
			}
			if name.URI == schema.NSXSD {
				break // only the first built-in ancestor is looked up
			}
		}
		if !found {
			continue
		}
		if rep.Rep == schema.RepInteger && (d.Rep == schema.RepInteger || d.Rep == schema.RepUnsignedInteger || d.Rep == schema.RepNBitInteger) {
			continue // the Integer representation keeps its facet-based forms
		}
		*d = schema.Datatype{Name: d.Name, Builtin: d.Builtin, Rep: rep.Rep, DateTime: rep.DateTime,
			EnumBase: -1, Item: -1, WhiteSpace: schema.WSCollapse}
		if rep.Rep == schema.RepString {
			d.WhiteSpace = schema.WSPreserve
		}
	}
	// list items keep their unmapped representation, as with the
	// reference implementation
	for i := range out {
		if d := &out[i]; d.Rep == schema.RepList && d.Item >= 0 && d.Item < len(g.Datatypes) {
			if !reflect.DeepEqual(out[d.Item], g.Datatypes[d.Item]) {
				out = append(out, g.Datatypes[d.Item])
				out[i].Item = len(out) - 1
			}
		}
	}
	return out, nil
}
