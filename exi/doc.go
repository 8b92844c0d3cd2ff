// Package exi implements the W3C Efficient XML Interchange (EXI) 1.0 format
// (Second Edition), the binary XML encoding negotiated by XEP-0322.
//
// The codec speaks encoding/xml tokens: an Encoder takes xml.Token values
// (as xml.Decoder.Token returns them, with namespace URIs in Name.Space)
// and writes an EXI stream; a Decoder reads an EXI stream and is an
// xml.TokenReader. EncodeXML and DecodeToXML convert whole documents.
//
// # What is implemented
//
//   - The EXI header (cookie, distinguishing bits, options document,
//     schemaId) and the four alignments: bit-packed, byte-alignment,
//     pre-compression and compression (channels and DEFLATE streams per
//     block).
//   - Built-in (schema-less) grammars with learning, all fidelity options,
//     fragments and self-contained elements; string tables with
//     valueMaxLength and valuePartitionCapacity.
//   - Schema-informed grammars: set Options.Schema to grammars compiled
//     once with package exi/schema (schema.CompileFiles, or
//     Grammars.UnmarshalBinary of MarshalBinary output); they are read-only
//     and may be shared by any number of encoders and decoders.
//     schema.BuiltinTypes gives the xsd-types-only mode (schemaId ""). A
//     decoder resolves a schemaId in the header through
//     Options.SchemaResolver. Strict and non-strict grammars, typed values
//     (boolean, decimal, float/double, integer, unsigned and n-bit
//     integers, the date-time family, base64/hex binary, lists,
//     enumerations, QName, restricted character sets from patterns),
//     untyped fallback for invalid values in non-strict mode, xsi:type and
//     xsi:nil, Preserve.lexicalValues with the built-in restricted
//     character sets, datatypeRepresentationMap (Options and header). In
//     strict mode the encoder refuses documents the schema does not allow
//     (ErrInvalid).
//   - Limits for hostile input (string-table entries, value length,
//     nesting depth, events, decoded and inflated output); a decoding error
//     is an *Error with the bit offset, and a *LimitError names the limit.
//
// # Not implemented or known to differ
//
// The ElementFragment grammar (§8.5.3) for
// schema-informed fragments whose element names are declared with
// different types; self-contained elements inside schema-informed
// grammars; DOCTYPE internal subsets are not re-serialized as the
// reference implementation's SAX parser does. The W3C vector cases that
// still differ from the reference encoder are listed with their reasons in
// vectors_test.go (knownFailures).
package exi
