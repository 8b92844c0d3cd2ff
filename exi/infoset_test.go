package exi

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"sort"
	"strings"
)

// infoset flattens an XML document into comparable lines as the vector
// README prescribes: {uri}local names, attributes as a sorted set,
// adjacent character data merged, namespace declarations only with
// prefixes, comments/PIs/DOCTYPE only when preserved.
func infoset(doc []byte, p Preserve) ([]string, error) {
	xd := xml.NewDecoder(bytes.NewReader(doc))
	xd.Strict = false
	var out []string
	var text strings.Builder
	depth := 0
	var scopes []map[string]string
	resolve := func(prefix string) string {
		for i := len(scopes) - 1; i >= 0; i-- {
			if u, ok := scopes[i][prefix]; ok {
				return u
			}
		}
		return prefix
	}
	flush := func() {
		if text.Len() > 0 && depth > 0 {
			out = append(out, "CH "+text.String())
		}
		text.Reset()
	}
	for {
		tok, err := xd.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return out, err
		}
		switch t := tok.(type) {
		case xml.CharData:
			text.Write(t)
			continue
		case xml.Comment:
			if !p.Comments {
				continue
			}
		case xml.ProcInst:
			if !p.PIs || t.Target == "xml" {
				continue
			}
		case xml.Directive:
			if !p.DTD {
				continue
			}
		}
		flush()
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			sc := map[string]string{}
			for _, a := range t.Attr {
				if a.Name.Space == "xmlns" {
					sc[a.Name.Local] = a.Value
				}
			}
			scopes = append(scopes, sc)
			out = append(out, "SE {"+t.Name.Space+"}"+t.Name.Local)
			var as []string
			for _, a := range t.Attr {
				if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
					if p.Prefixes {
						as = append(as, "NS "+a.Name.Local+"="+a.Value)
					}
					continue
				}
				v := a.Value
				if a.Name.Space == nsXSI && a.Name.Local == "type" {
					if i := strings.IndexByte(v, ':'); i >= 0 {
						v = "{" + resolve(v[:i]) + "}" + v[i+1:]
					}
				}
				as = append(as, "AT {"+a.Name.Space+"}"+a.Name.Local+"="+v)
			}
			sort.Strings(as)
			out = append(out, as...)
		case xml.EndElement:
			depth--
			scopes = scopes[:len(scopes)-1]
			out = append(out, "EE")
		case xml.Comment:
			out = append(out, "CM "+string(t))
		case xml.ProcInst:
			out = append(out, "PI "+t.Target+" "+string(t.Inst))
		case xml.Directive:
			out = append(out, "DT "+string(t))
		}
	}
	return out, nil
}

// diffInfoset describes the first difference, or returns "".
func diffInfoset(got, want []string) string {
	for i := 0; i < len(got) || i < len(want); i++ {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			return fmt.Sprintf("item %d: got %.120q, want %.120q", i, g, w)
		}
	}
	return ""
}
