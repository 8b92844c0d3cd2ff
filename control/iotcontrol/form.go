package iotcontrol

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"regexp"

	"github.com/xiot/xiot/control"
	"github.com/xiot/xiot/internal/xmpp"
)

// SessionVar is the hidden XEP-0336 field identifying a form session.
const SessionVar = "xdd session"

// datatypes maps parameter types to XEP-0122 (and XEP-0331) datatypes.
var datatypes = map[control.Type]string{
	control.TypeBoolean: "xs:boolean", control.TypeColor: "xdc:ColorAlpha", control.TypeDate: "xs:date",
	control.TypeDateTime: "xs:dateTime", control.TypeDouble: "xs:double", control.TypeDuration: "xs:duration",
	control.TypeInt: "xs:int", control.TypeLong: "xs:long", control.TypeString: "xs:string", control.TypeTime: "xs:time",
}

// TypeOfDatatype returns the parameter type a XEP-0122 datatype stands
// for; ok is false for datatypes XEP-0325 has no parameter for.
func TypeOfDatatype(dt string) (control.Type, bool) {
	if dt == "xdc:Color" {
		return control.TypeColor, true
	}
	for t, d := range datatypes {
		if d == dt {
			return t, true
		}
	}
	return control.TypeNone, false
}

// FormParam is one parameter listed in a control form, with its current
// value (the zero Value when unknown).
type FormParam struct {
	control.Param
	Value control.Value
}

// newSession returns a fresh form session id.
func newSession() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// BuildForm returns the control form (a XEP-0004 form of type "form")
// listing params in order, each with its XEP-0122 validation, the
// XEP-0336 notSame flag and its parameterGroup, grouped into one XEP-0141
// page per page label of pages (params[i] goes on pages[i]).
func BuildForm(title string, params []FormParam, pages []string) *xmpp.Element {
	x := xmpp.NewElement(NSData, "x", "type", "form")
	x.Add(xmpp.NewElement(NSData, "title").AddText(title))
	order := []string{}
	refs := map[string]*xmpp.Element{}
	for i, p := range params {
		label := "Control"
		if i < len(pages) && pages[i] != "" {
			label = pages[i]
		}
		page := refs[label]
		if page == nil {
			page = xmpp.NewElement(NSLayout, "page", "label", label)
			refs[label] = page
			order = append(order, label)
		}
		page.Add(xmpp.NewElement(NSLayout, "fieldref", "var", p.Name))
	}
	for _, label := range order {
		x.Add(refs[label])
	}
	x.Add(xmpp.NewElement(NSData, "field", "var", SessionVar, "type", "hidden").Add(xmpp.NewElement(NSData, "value").AddText(newSession())))
	for _, p := range params {
		x.Add(fieldElement(p))
	}
	return x
}

func fieldElement(p FormParam) *xmpp.Element {
	label := p.Label
	if label == "" {
		label = p.Name
	}
	typ := "text-single"
	switch {
	case len(p.Options) > 0:
		typ = "list-single"
	case p.Type == control.TypeBoolean:
		typ = "boolean"
	}
	f := xmpp.NewElement(NSData, "field", "var", p.Name, "type", typ, "label", label)
	if p.Desc != "" {
		f.Add(xmpp.NewElement(NSData, "desc").AddText(p.Desc))
	}
	if !p.Value.IsZero() {
		f.Add(xmpp.NewElement(NSData, "value").AddText(p.Value.String()))
	}
	for _, o := range p.Options {
		f.Add(xmpp.NewElement(NSData, "option", "label", o.String()).Add(xmpp.NewElement(NSData, "value").AddText(o.String())))
	}
	v := xmpp.NewElement(NSValidate, "validate", "datatype", datatypes[p.Type])
	if p.Type == control.TypeColor {
		// The datatype's prefix must be declared (XEP-0331 §2).
		v.Attr = append(v.Attr, xml.Attr{Name: xml.Name{Local: "xmlns:xdc"}, Value: NSColor})
	}
	switch {
	case p.Type == control.TypeString && (!p.Min.IsZero() || !p.Max.IsZero()):
		lo, hi := "0", ""
		if !p.Min.IsZero() {
			lo = p.Min.String()
		}
		if !p.Max.IsZero() {
			hi = p.Max.String()
		}
		v.Add(xmpp.NewElement(NSValidate, "regex").AddText("^.{" + lo + "," + hi + "}$"))
	case !p.Min.IsZero() || !p.Max.IsZero():
		v.Add(xmpp.NewElement(NSValidate, "range", "min", p.Min.String(), "max", p.Max.String()))
	default:
		v.Add(xmpp.NewElement(NSValidate, "basic"))
	}
	f.Add(v)
	f.Add(xmpp.NewElement(NSDynamic, "notSame"))
	if p.Group != "" {
		f.Add(xmpp.NewElement(NS, "parameterGroup", "name", p.Group))
	}
	return f
}

// Form is a control form as a client reads it.
type Form struct {
	Title   string
	Session string // the xdd session field, "" when absent
	Fields  []Field
}

// Field is one control parameter of a form.
type Field struct {
	Var, Type, Label, Desc string
	Values                 []string
	Options                []string
	Datatype               string // XEP-0122 datatype, "" when not given
	Min, Max               string // XEP-0122 range
	Regex                  string
	NotSame                bool
	Group                  string // XEP-0325 parameterGroup
	Page                   string // XEP-0141 page label
}

// ParamType returns the XEP-0325 parameter type of the field, from its
// datatype (or boolean for a boolean field without one); ok is false when
// it cannot tell.
func (f Field) ParamType() (control.Type, bool) {
	if t, ok := TypeOfDatatype(f.Datatype); ok {
		return t, true
	}
	if f.Type == "boolean" {
		return control.TypeBoolean, true
	}
	return control.TypeNone, false
}

// ParseForm reads a data form (the payload of a getForm result). Hidden
// fields other than the session, and fixed fields, are left out.
func ParseForm(x *xmpp.Element) (Form, error) {
	var f Form
	if x == nil || x.Name.Space != NSData || x.Name.Local != "x" {
		return f, malformed("not a {%s}x data form", NSData)
	}
	if t := x.Child(NSData, "title"); t != nil {
		f.Title = t.Text()
	}
	pageOf := map[string]string{}
	for _, c := range x.Children() {
		if c.Name.Space == NSLayout && c.Name.Local == "page" {
			for _, r := range c.Children() {
				if r.Name.Local == "fieldref" {
					pageOf[r.Get("var")] = c.Get("label")
				}
			}
		}
	}
	for _, c := range x.Children() {
		if c.Name.Space != NSData || c.Name.Local != "field" {
			continue
		}
		fd := Field{Var: c.Get("var"), Type: c.Get("type"), Label: c.Get("label")}
		for _, k := range c.Children() {
			switch {
			case k.Name.Space == NSData && k.Name.Local == "value":
				fd.Values = append(fd.Values, k.Text())
			case k.Name.Space == NSData && k.Name.Local == "desc":
				fd.Desc = k.Text()
			case k.Name.Space == NSData && k.Name.Local == "option":
				if v := k.Child(NSData, "value"); v != nil {
					fd.Options = append(fd.Options, v.Text())
				}
			case k.Name.Space == NSValidate && k.Name.Local == "validate":
				fd.Datatype = k.Get("datatype")
				if r := k.Child(NSValidate, "range"); r != nil {
					fd.Min, fd.Max = r.Get("min"), r.Get("max")
				}
				if r := k.Child(NSValidate, "regex"); r != nil {
					fd.Regex = r.Text()
				}
			case k.Name.Space == NSDynamic && k.Name.Local == "notSame":
				fd.NotSame = true
			case k.Name.Space == NS && k.Name.Local == "parameterGroup":
				fd.Group = k.Get("name")
			}
		}
		if fd.Var == SessionVar {
			if len(fd.Values) > 0 {
				f.Session = fd.Values[0]
			}
			continue
		}
		if fd.Var == "" || fd.Type == "hidden" || fd.Type == "fixed" {
			continue
		}
		fd.Page = pageOf[fd.Var]
		f.Fields = append(f.Fields, fd)
	}
	return f, nil
}

// Validate checks a value typed into field f against the form's XEP-0122
// rules (datatype, range, regex, options), as a client does before
// sending it.
func (f Field) Validate(s string) error {
	t, ok := f.ParamType()
	if !ok {
		return nil
	}
	v, err := control.Parse(t, s)
	if err != nil {
		return fmt.Errorf("%s: %w", f.Var, err)
	}
	p := control.Param{Name: f.Var, Type: t}
	if f.Min != "" {
		if p.Min, err = control.Parse(t, f.Min); err != nil {
			return nil // an unreadable bound is the device's problem
		}
	}
	if f.Max != "" {
		if p.Max, err = control.Parse(t, f.Max); err != nil {
			return nil
		}
	}
	for _, o := range f.Options {
		if ov, err := control.Parse(t, o); err == nil {
			p.Options = append(p.Options, ov)
		}
	}
	if err := p.Check(v); err != nil {
		return err
	}
	if f.Regex != "" {
		if re, err := regexp.Compile(f.Regex); err == nil && !re.MatchString(s) {
			return fmt.Errorf("%s: %w: %q does not match %s", f.Var, control.ErrOutOfRange, s, f.Regex)
		}
	}
	return nil
}
