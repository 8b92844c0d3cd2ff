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
// Every vector of the shared set made by the reference implementation
// (EXIficient) passes: decoded infosets, byte-identical re-encoding where
// DEFLATE is not involved, round trips and the expected refusals. Where
// EXI leaves a choice the codec follows that implementation (whitespace
// handling, xsi:nil="false" dropped, DOCTYPE subset re-serialization,
// float mantissa normalization, datatypeRepresentationMap lookup). DEFLATE
// output is the encoder's choice: github.com/klauspost/compress/flate at
// Options.CompressionLevel (default DefaultCompressionLevel), several
// times faster than compress/flate at a few percent in size.
//
// # Session-wide buffers
//
// XEP-0322 sends every XMPP stanza as its own EXI document and lets both
// ends agree on sessionWideBuffers: "all buffers, string tables, etc. will
// be maintained during the entire session". With
// Options.SessionWideBuffers set on both ends, Encoder.Reset and
// Decoder.Reset start the next document with the state of the previous one
// instead of the initial state: the URI, prefix and local-name partitions,
// the global and local value partitions (with the round-robin position of
// a bounded valuePartitionCapacity) and the productions the built-in
// element and fragment grammars have learned, which EXI keeps next to
// those tables. The document grammar, the nesting state, the namespace
// scope and pre-compression channels and DEFLATE streams start afresh:
// each document is complete, with its own header, blocks and ED. The
// codec reads "etc." as everything EXI's string tables and built-in
// grammars hold, as if the documents were one EXI stream whose SD
// restarted; the XEP defines nothing finer.
//
// A session starts with the first document written or read with the
// option set, and again with every document whose header carries the EXI
// cookie or an options document (on XMPP, a streamStart). A document
// continues the session only if the previous one completed (Close
// succeeded, or the decoder reached ED) with the same grammars and value
// options; otherwise Reset (encoder) or the first Token (decoder) fails
// with ErrSession rather than decode against tables the other end does
// not have. When only one end keeps its tables the documents after the
// first disagree on table sizes and ids; the decoder reports that as
// ErrMalformed, but EXI has no check value, so not every such mix is
// detectable.
//
// The tables of a session stay bounded: learned productions count as
// string-table entries, everything is subject to Limits
// (MaxStringTableEntries fails the document with a *LimitError on both
// ends), and with a bounded valuePartitionCapacity the values freed by
// the round-robin replacement are dropped from memory, so a long session
// with ever new values holds at most valuePartitionCapacity of them. An
// unbounded value partition counts every value towards
// MaxStringTableEntries, so such a session ends at that limit.
//
// # Limits of the API
//
// Decoder.Token boxes each token in an interface, as encoding/xml does, so
// a decode allocates for start elements and character data; EndElement
// tokens and string-table strings are reused across streams. The decoder
// reads its input incrementally; with pre-compression and compression it
// needs a whole block (and, compressed, its complete DEFLATE streams)
// before the block's first token, as EXI lays values out per block.
// The encoder expands entity references (it never writes ER events) and
// reads no external DTD.
package exi
