package exi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/xiot/xiot/exi/schema"
)

type manifest struct {
	Vectors []struct {
		Name, Optset, Dir, JSON, Alignment, Grammar string
		ByteExact                                   bool
		Caveats                                     []string
	}
	OracleRejected []struct {
		Name, Optset, Dir, Input, Reason string
	}
}

type vectorJSON struct {
	Files   struct{ XML, EXI, Decoded string }
	Options struct {
		Alignment     string
		Strict        bool
		Preserve      struct{ Comments, Pis, Dtd, Prefixes, LexicalValues bool }
		SelfContained bool
		// SelfContainedElements is "{uri}local,..." or null.
		SelfContainedElements     *string
		Fragment                  bool
		BlockSize                 int
		ValueMaxLength            *int
		ValuePartitionCapacity    *int
		Grammar                   string
		Schema                    *string
		SchemaID                  *string
		DatatypeRepresentationMap [][]string
	}
	Header struct{ Cookie, Options, SchemaID bool }
}

// vectorsDir finds the shared EXI test vectors.
func vectorsDir(t testing.TB) string {
	if d := os.Getenv("XIOT_EXI_VECTORS"); d != "" {
		return d
	}
	if d := "../../shared/exi-vectors"; isDir(d) {
		return d
	}
	wd, _ := os.Getwd()
	for d := wd; ; d = filepath.Dir(d) {
		if c := filepath.Join(d, "shared", "exi-vectors"); isDir(c) {
			return c
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	t.Fatal("EXI test vectors not found: set XIOT_EXI_VECTORS or put shared/exi-vectors beside the repository")
	return ""
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

func (v *vectorJSON) options() Options {
	o := DefaultOptions()
	vo := &v.Options
	switch vo.Alignment {
	case "byte-alignment":
		o.Alignment = ByteAligned
	case "pre-compression":
		o.Alignment = PreCompression
	case "compression":
		o.Alignment = Compression
	}
	o.Strict = vo.Strict
	o.Preserve = Preserve{Comments: vo.Preserve.Comments, PIs: vo.Preserve.Pis, DTD: vo.Preserve.Dtd,
		Prefixes: vo.Preserve.Prefixes, LexicalValues: vo.Preserve.LexicalValues}
	o.SelfContained = vo.SelfContained
	if vo.SelfContainedElements != nil {
		for _, s := range strings.Split(*vo.SelfContainedElements, ",") {
			if i := strings.IndexByte(s, '}'); strings.HasPrefix(s, "{") && i > 0 {
				o.SelfContainedElements = append(o.SelfContainedElements, QName{s[1:i], s[i+1:]})
			}
		}
	}
	o.Fragment = vo.Fragment
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
	for _, p := range vo.DatatypeRepresentationMap {
		if len(p) == 2 {
			o.DatatypeRepresentationMap = append(o.DatatypeRepresentationMap, DatatypeRepresentation{clarkName(p[0]), clarkName(p[1])})
		}
	}
	o.Header = HeaderOptions{Cookie: v.Header.Cookie, Options: v.Header.Options, SchemaID: v.Header.SchemaID}
	return o
}

// clarkName parses "{uri}local".
func clarkName(s string) QName {
	if i := strings.IndexByte(s, '}'); strings.HasPrefix(s, "{") && i > 0 {
		return QName{s[1:i], s[i+1:]}
	}
	return QName{Local: s}
}

// schemaCache compiles each schema of the vectors once, as an
// application would.
type schemaCache struct {
	mu sync.Mutex
	m  map[string]*schema.Grammars
	e  map[string]error
}

func (c *schemaCache) get(root string, v *vectorJSON) (*schema.Grammars, error) {
	key := ""
	if v.Options.Grammar == "schema-informed" && v.Options.Schema != nil {
		key = *v.Options.Schema
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if g, ok := c.m[key]; ok {
		return g, c.e[key]
	}
	var g *schema.Grammars
	var err error
	if key == "" {
		g = schema.BuiltinTypes()
	} else {
		g, err = schema.CompileFiles(filepath.Join(root, key))
	}
	c.m[key], c.e[key] = g, err
	return g, err
}

// knownFailures lists the W3C cases (every option set of the case) this
// codec does not yet pass, with the reason; empty now that every vector
// passes. Add an entry only with a precise reason.
var knownFailures = map[string]string{}

// skipReason returns why a vector is not expected to pass yet, or "".
func skipReason(group string, grammar string, caveats []string, v *vectorJSON) string {
	return ""
}

type tally struct {
	mu               sync.Mutex
	pass, fail, skip map[string]int
	reasons          map[string]int
}

func (t *tally) add(group, result, reason string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch result {
	case "pass":
		t.pass[group]++
	case "fail":
		t.fail[group]++
	default:
		t.skip[group]++
		t.reasons[group+": "+reason]++
	}
}

func TestVectors(t *testing.T) {
	dir := vectorsDir(t)
	raw, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatalf("read manifest: %v", err)
	}
	var m manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("parse manifest: %v", err)
	}
	sc := &schemaCache{m: map[string]*schema.Grammars{}, e: map[string]error{}}
	ta := &tally{pass: map[string]int{}, fail: map[string]int{}, skip: map[string]int{}, reasons: map[string]int{}}
	for _, mv := range m.Vectors {
		src := strings.SplitN(mv.Dir, "/", 2)[0]
		group := src + " " + mv.Grammar
		if src == "w3c" {
			group += " " + mv.Alignment
		}
		t.Run(mv.Dir+"/"+mv.Optset, func(t *testing.T) {
			vdir := filepath.Join(dir, mv.Dir)
			var v vectorJSON
			b, err := os.ReadFile(filepath.Join(vdir, mv.JSON))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &v); err != nil {
				t.Fatal(err)
			}
			r := knownFailures[mv.Dir]
			if r == "" {
				r = skipReason(group, mv.Grammar, mv.Caveats, &v)
			}
			if r != "" {
				ta.add(group, "skip", r)
				t.Skip(r)
			}
			var g *schema.Grammars
			if mv.Grammar != "schema-less" {
				if g, err = sc.get(dir, &v); err != nil {
					ta.add(group, "fail", "")
					t.Fatalf("compile schema: %v", err)
				}
			}
			if err := checkVector(vdir, &v, mv.ByteExact, g); err != nil {
				ta.add(group, "fail", "")
				t.Error(err)
				return
			}
			ta.add(group, "pass", "")
		})
	}
	for _, rj := range m.OracleRejected {
		if !strings.HasPrefix(rj.Reason, "expected") {
			continue
		}
		t.Run("rejected/"+rj.Dir+"/"+rj.Optset, func(t *testing.T) {
			// the options of the same option set on another document
			var v vectorJSON
			for _, mv := range m.Vectors {
				if mv.Optset == rj.Optset && !strings.HasPrefix(mv.Name, "sensordata-") {
					b, err := os.ReadFile(filepath.Join(dir, mv.Dir, mv.JSON))
					if err == nil {
						err = json.Unmarshal(b, &v)
					}
					if err != nil {
						t.Fatal(err)
					}
					break
				}
			}
			if v.Options.Grammar == "" {
				t.Fatalf("no vector with option set %s", rj.Optset)
			}
			opts := v.options()
			if v.Options.Grammar != "schema-less" {
				g, err := sc.get(dir, &v)
				if err != nil {
					t.Fatal(err)
				}
				opts.Schema = g
			}
			in, err := os.ReadFile(filepath.Join(dir, rj.Dir, rj.Input))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := EncodeXML(in, opts); !errors.Is(err, ErrInvalid) {
				ta.add("rejected", "fail", "")
				t.Errorf("encoder accepted what it must refuse (%s): err = %v", rj.Reason, err)
				return
			}
			ta.add("rejected", "pass", "")
		})
	}
	var groups []string
	seen := map[string]bool{}
	for _, mm := range []map[string]int{ta.pass, ta.fail, ta.skip} {
		for g := range mm {
			if !seen[g] {
				seen[g] = true
				groups = append(groups, g)
			}
		}
	}
	sort.Strings(groups)
	var sb strings.Builder
	for _, g := range groups {
		n := ta.pass[g] + ta.fail[g] + ta.skip[g]
		fmt.Fprintf(&sb, "exi vectors: %-36s %4d/%-4d passed, %d failed, %d skipped\n", g, ta.pass[g], n, ta.fail[g], ta.skip[g])
	}
	var rs []string
	for r, n := range ta.reasons {
		rs = append(rs, fmt.Sprintf("exi vectors: skipped %4d  %s\n", n, r))
	}
	sort.Strings(rs)
	for _, r := range rs {
		sb.WriteString(r)
	}
	t.Log("\n" + sb.String())
	fmt.Print(sb.String())
}

func checkVector(vdir string, v *vectorJSON, byteExact bool, g *schema.Grammars) error {
	opts := v.options()
	opts.Schema = g
	exiBytes, err := os.ReadFile(filepath.Join(vdir, v.Files.EXI))
	if err != nil {
		return err
	}
	want, err := os.ReadFile(filepath.Join(vdir, v.Files.Decoded))
	if err != nil {
		return err
	}
	xmlIn, err := os.ReadFile(filepath.Join(vdir, v.Files.XML))
	if err != nil {
		return err
	}
	wantSet, err := infoset(want, opts.Preserve)
	if err != nil {
		return fmt.Errorf("parse decoded.xml: %w", err)
	}
	// 1. decode; options come from the header when it has them
	dopts := opts
	if v.Header.Options {
		dopts = DefaultOptions()
		if !v.Header.SchemaID {
			dopts.Schema = g
		} else {
			dopts.SchemaResolver = func(string) (*schema.Grammars, error) { return g, nil }
		}
	}
	got, err := DecodeToXML(exiBytes, dopts)
	if err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	gotSet, err := infoset(got, opts.Preserve)
	if err != nil {
		return fmt.Errorf("parse our decoded XML: %w\n%s", err, got)
	}
	if d := diffInfoset(gotSet, wantSet); d != "" {
		return fmt.Errorf("decode: %s", d)
	}
	// 2. encode
	enc, err := EncodeXML(xmlIn, opts)
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	if byteExact {
		if !bytes.Equal(enc, exiBytes) {
			return fmt.Errorf("encode: %d bytes differ from the oracle's %d (first difference at byte %d)", len(enc), len(exiBytes), firstDiff(enc, exiBytes))
		}
		return nil
	}
	// 3. round trip
	rt, err := DecodeToXML(enc, dopts)
	if err != nil {
		return fmt.Errorf("decode our encoding: %w", err)
	}
	rtSet, err := infoset(rt, opts.Preserve)
	if err != nil {
		return err
	}
	if d := diffInfoset(rtSet, wantSet); d != "" {
		return fmt.Errorf("round trip: %s", d)
	}
	return nil
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
