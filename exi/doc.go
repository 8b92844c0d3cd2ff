// Package exi implements the W3C Efficient XML Interchange (EXI) 1.0 format
// (Second Edition), the binary XML encoding negotiated by XEP-0322.
//
// The codec speaks encoding/xml tokens: an Encoder takes xml.Token values
// (as xml.Decoder.Token returns them, with namespace URIs in Name.Space)
// and writes an EXI stream; a Decoder reads an EXI stream and is an
// xml.TokenReader. EncodeXML and DecodeToXML convert whole documents.
//
// This version implements the built-in (schema-less) grammars with all
// fidelity options, fragments, self-contained elements, string tables with
// valueMaxLength and valuePartitionCapacity, the EXI header with its
// options document, and the four alignments: bit-packed, byte-alignment,
// pre-compression and compression. Schema-informed grammars come from the
// exi/schema package once it is integrated.
package exi
