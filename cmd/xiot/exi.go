package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/xiot/xiot/exi"
	"github.com/xiot/xiot/exi/schema"
)

const exiUsage = `Usage: xiot exi encode|decode [flags] [FILE]

Convert XML to EXI (encode) or EXI to XML (decode), from FILE or stdin to
stdout. Options not carried in an EXI header must be given the same way
for decoding as for encoding.

Examples:
  xiot exi encode --alignment compression --header stanza.xml > stanza.exi
  xiot exi decode --header stanza.exi
  xiot exi encode --schema schemas/xiot.xsd --strict stanza.xml > s.exi
  xiot exi encode --vector v.json v.xml > out.exi
  xiot exi decode --vector v.json v.exi
`

// runEXI implements "xiot exi encode|decode".
func runEXI(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("exi", exiUsage)
	alignment := fs.String("alignment", "bit-packed", "bit-packed, byte-alignment, pre-compression or compression")
	strict := fs.Bool("strict", false, "strict schema-informed grammars")
	preserve := fs.String("preserve", "", "comma-separated fidelity options: comments,pis,dtd,prefixes,lexicalValues")
	schemaFile := fs.String("schema", "", "XSD file for schema-informed grammars")
	xsdTypes := fs.Bool("xsd-types", false, "schema-informed with the XML Schema built-in types only")
	header := fs.Bool("header", false, "encode: write the cookie and the options document (with schemaId) in the header")
	blockSize := fs.Int("block-size", exi.DefaultBlockSize, "values per compression block")
	fragment := fs.Bool("fragment", false, "the input is an XML fragment")
	vector := fs.String("vector", "", "take every option from a test vector's JSON file")
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if err := parseFlags(fs, args, stdout, stderr); err != nil {
			return err
		}
		return usagef(fs, "missing encode or decode")
	}
	mode, args := args[0], args[1:]
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if mode != "encode" && mode != "decode" {
		return usagef(fs, "unknown mode %q (want encode or decode)", mode)
	}
	if fs.NArg() > 1 {
		return usagef(fs, "unexpected argument %q", fs.Arg(1))
	}
	var o exi.Options
	headerHasOptions := *header
	if *vector != "" {
		var err error
		if o, headerHasOptions, err = vectorOptions(*vector); err != nil {
			return err
		}
	} else {
		o = exi.DefaultOptions()
		switch *alignment {
		case "bit-packed":
		case "byte-alignment":
			o.Alignment = exi.ByteAligned
		case "pre-compression":
			o.Alignment = exi.PreCompression
		case "compression":
			o.Alignment = exi.Compression
		default:
			return usagef(fs, "unknown alignment %q", *alignment)
		}
		o.Strict, o.Fragment, o.BlockSize = *strict, *fragment, *blockSize
		for _, p := range strings.Split(*preserve, ",") {
			switch strings.TrimSpace(p) {
			case "":
			case "comments":
				o.Preserve.Comments = true
			case "pis":
				o.Preserve.PIs = true
			case "dtd":
				o.Preserve.DTD = true
			case "prefixes":
				o.Preserve.Prefixes = true
			case "lexicalValues", "lexical":
				o.Preserve.LexicalValues = true
			default:
				return usagef(fs, "unknown --preserve option %q", p)
			}
		}
		switch {
		case *schemaFile != "":
			g, err := schema.CompileFiles(*schemaFile)
			if err != nil {
				return err
			}
			o.Schema, o.SchemaID = g, *schemaFile
		case *xsdTypes:
			o.Schema = schema.BuiltinTypes()
		default:
			o.SchemaIDNil = true
		}
		o.Header = exi.HeaderOptions{Cookie: *header, Options: *header, SchemaID: *header}
	}
	in, err := readInput(fs.Arg(0))
	if err != nil {
		return err
	}
	var out []byte
	if mode == "encode" {
		out, err = exi.EncodeXML(in, o)
	} else {
		d := o
		if headerHasOptions {
			d = exi.DefaultOptions()
			d.Schema = o.Schema
		}
		g := o.Schema
		d.SchemaResolver = func(id string) (*schema.Grammars, error) {
			switch {
			case g != nil:
				return g, nil
			case id == "":
				return schema.BuiltinTypes(), nil
			}
			return nil, fmt.Errorf("the stream needs schema %q: give it with --schema", id)
		}
		out, err = exi.DecodeToXML(in, d)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", mode, err)
	}
	_, err = stdout.Write(out)
	return err
}

func readInput(name string) ([]byte, error) {
	if name == "" || name == "-" {
		return io.ReadAll(os.Stdin)
	}
	return os.ReadFile(name)
}

// vectorJSON is the part of a test vector's JSON the options come from.
type vectorJSON struct {
	Options struct {
		Alignment                              string
		Strict                                 bool
		Preserve                               struct{ Comments, Pis, Dtd, Prefixes, LexicalValues bool }
		SelfContained                          bool
		SelfContainedElements                  *string
		Fragment                               bool
		BlockSize                              int
		ValueMaxLength, ValuePartitionCapacity *int
		Grammar                                string
		Schema, SchemaID                       *string
		DatatypeRepresentationMap              [][]string
	}
	Header struct{ Cookie, Options, SchemaID bool }
}

// vectorOptions reads the options of a test vector. Schema paths are
// relative to the vector set's root: the nearest folder above the JSON
// file that holds manifest.json.
func vectorOptions(file string) (exi.Options, bool, error) {
	o := exi.DefaultOptions()
	b, err := os.ReadFile(file)
	if err != nil {
		return o, false, err
	}
	var v vectorJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return o, false, fmt.Errorf("vector %s: %w", file, err)
	}
	vo := &v.Options
	switch vo.Alignment {
	case "byte-alignment":
		o.Alignment = exi.ByteAligned
	case "pre-compression":
		o.Alignment = exi.PreCompression
	case "compression":
		o.Alignment = exi.Compression
	}
	o.Strict, o.SelfContained, o.Fragment = vo.Strict, vo.SelfContained, vo.Fragment
	o.Preserve = exi.Preserve{Comments: vo.Preserve.Comments, PIs: vo.Preserve.Pis, DTD: vo.Preserve.Dtd,
		Prefixes: vo.Preserve.Prefixes, LexicalValues: vo.Preserve.LexicalValues}
	if vo.SelfContainedElements != nil {
		for _, s := range strings.Split(*vo.SelfContainedElements, ",") {
			if i := strings.IndexByte(s, '}'); strings.HasPrefix(s, "{") && i > 0 {
				o.SelfContainedElements = append(o.SelfContainedElements, exi.QName{URI: s[1:i], Local: s[i+1:]})
			}
		}
	}
	if vo.BlockSize > 0 {
		o.BlockSize = vo.BlockSize
	}
	if vo.ValueMaxLength != nil {
		o.ValueMaxLength = *vo.ValueMaxLength
	}
	if vo.ValuePartitionCapacity != nil {
		o.ValuePartitionCapacity = *vo.ValuePartitionCapacity
	}
	if vo.SchemaID != nil {
		o.SchemaID = *vo.SchemaID
	} else {
		o.SchemaIDNil = true
	}
	switch vo.Grammar {
	case "xsd-types-only":
		o.Schema = schema.BuiltinTypes()
	case "schema-informed":
		if vo.Schema == nil {
			return o, false, fmt.Errorf("vector %s: schema-informed without a schema", file)
		}
		root, err := vectorRoot(file)
		if err != nil {
			return o, false, err
		}
		g, err := schema.CompileFiles(filepath.Join(root, *vo.Schema))
		if err != nil {
			return o, false, err
		}
		o.Schema = g
	}
	for _, p := range vo.DatatypeRepresentationMap {
		if len(p) != 2 {
			return o, false, fmt.Errorf("vector %s: datatypeRepresentationMap entry %q is not a pair", file, p)
		}
		o.DatatypeRepresentationMap = append(o.DatatypeRepresentationMap,
			exi.DatatypeRepresentation{Type: clarkName(p[0]), Representation: clarkName(p[1])})
	}
	o.Header = exi.HeaderOptions{Cookie: v.Header.Cookie, Options: v.Header.Options, SchemaID: v.Header.SchemaID}
	return o, v.Header.Options, nil
}

// clarkName parses "{uri}local".
func clarkName(s string) exi.QName {
	if i := strings.IndexByte(s, '}'); strings.HasPrefix(s, "{") && i > 0 {
		return exi.QName{URI: s[1:i], Local: s[i+1:]}
	}
	return exi.QName{Local: s}
}

func vectorRoot(file string) (string, error) {
	abs, err := filepath.Abs(file)
	if err != nil {
		return "", err
	}
	for d := filepath.Dir(abs); ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "manifest.json")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("vector %s: no manifest.json in a folder above it", file)
		}
	}
}
