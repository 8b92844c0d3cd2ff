package exi

import (
	"errors"
	"fmt"

	"github.com/xiot/xiot/exi/schema"
)

// Alignment selects how an EXI body is laid out (EXI §5.4 alignment and
// compression options).
type Alignment uint8

// The four EXI alignments.
const (
	BitPacked      Alignment = iota // events and values packed bit by bit (the default)
	ByteAligned                     // every event code and value starts on a byte
	PreCompression                  // byte-aligned, values grouped in channels per block
	Compression                     // pre-compression with each stream DEFLATE-compressed
)

func (a Alignment) String() string {
	switch a {
	case BitPacked:
		return "bit-packed"
	case ByteAligned:
		return "byte-alignment"
	case PreCompression:
		return "pre-compression"
	case Compression:
		return "compression"
	}
	return fmt.Sprintf("Alignment(%d)", uint8(a))
}

// Preserve holds the EXI fidelity options: which XML information items are
// kept beyond elements, attributes and character data.
type Preserve struct {
	Comments      bool
	PIs           bool
	DTD           bool // DOCTYPE and entity references
	Prefixes      bool // namespace prefixes and declarations
	LexicalValues bool
}

// HeaderOptions says what the encoder writes into the EXI header. A decoder
// ignores it: it reads what the header actually contains.
type HeaderOptions struct {
	Cookie   bool // start with "$EXI"
	Options  bool // include the EXI options document
	SchemaID bool // include schemaId in the options document
}

// Unbounded is the ValueMaxLength and ValuePartitionCapacity value meaning
// "no limit", which is the EXI default.
const Unbounded = -1

// The DEFLATE levels of Options.CompressionLevel. The default level costs
// about 3 % in size against the smallest and compresses several times
// faster (BENCHMARKS.md, "EXI codec").
const (
	MinCompressionLevel     = 1
	DefaultCompressionLevel = 5
	MaxCompressionLevel     = 9
)

func deflateLevel(l int) int {
	if l == 0 {
		return DefaultCompressionLevel
	}
	return l
}

// DefaultBlockSize is the EXI default blockSize.
const DefaultBlockSize = 1000000

// Options are the EXI options in force for a stream. Options carried in a
// stream's header take precedence over these when decoding. Start from
// DefaultOptions: the zero value means ValueMaxLength and
// ValuePartitionCapacity 0, which is valid EXI but not the default.
type Options struct {
	Alignment     Alignment
	Strict        bool
	Preserve      Preserve
	SelfContained bool
	Fragment      bool
	// BlockSize is the number of values per compression block; 0 means
	// DefaultBlockSize.
	BlockSize int
	// ValueMaxLength is the longest value added to the value string table;
	// Unbounded (-1) for no limit.
	ValueMaxLength int
	// ValuePartitionCapacity is the capacity of the global value table;
	// Unbounded (-1) for no limit.
	ValuePartitionCapacity int
	// SchemaID is written to the header when Header.SchemaID is set.
	SchemaID string
	// SchemaIDNil writes schemaId as xsi:nil (no schema information).
	SchemaIDNil bool

	// SelfContainedElements lists the elements an encoder writes as
	// self-contained (SC) when SelfContained is set; an encoder choice, not
	// an EXI option.
	SelfContainedElements []QName
	// CompressionLevel is the DEFLATE level an encoder uses with
	// Compression: MinCompressionLevel (fastest) to MaxCompressionLevel
	// (smallest), 0 for DefaultCompressionLevel. An encoder choice, not an
	// EXI option: any level decodes the same.
	CompressionLevel int
	// Schema, when not nil, makes the stream schema-informed with these
	// compiled grammars (from schema.CompileFiles, schema.BuiltinTypes for
	// xsd-types-only streams, or Grammars.UnmarshalBinary). Grammars are
	// read-only and may be shared by any number of encoders and decoders.
	Schema *schema.Grammars
	// DatatypeRepresentationMap overrides the representation of schema
	// datatypes (EXI §7.4); it only applies to schema-informed streams.
	DatatypeRepresentationMap []DatatypeRepresentation
	// SchemaResolver, when not nil, gives a decoder the grammars for the
	// schemaId found in a stream's header. Without it a decoder uses
	// Schema for any non-empty schemaId, schema.BuiltinTypes for the empty
	// schemaId (xsd-types-only) and no schema for a nil schemaId.
	SchemaResolver func(schemaID string) (*schema.Grammars, error)

	// SessionWideBuffers keeps the string tables and the grammars learned
	// with them from one document to the next, as XEP-0322's
	// sessionWideBuffers option asks ("all buffers, string tables, etc.
	// will be maintained during the entire session"). It is not an EXI
	// option and never appears in a header; both ends must agree on it
	// out of band. See the package documentation, "Session-wide buffers".
	SessionWideBuffers bool

	// Header says what the encoder puts into the header.
	Header HeaderOptions
	// Limits bound the resources a decoder spends on hostile input.
	Limits Limits
}

// QName is an expanded XML name: namespace URI and local name.
type QName struct {
	URI, Local string
}

// DefaultOptions returns the EXI default options: bit-packed, no fidelity
// options, blockSize 1000000, unbounded value lengths and partitions, and
// default Limits.
func DefaultOptions() Options {
	return Options{
		BlockSize:              DefaultBlockSize,
		ValueMaxLength:         Unbounded,
		ValuePartitionCapacity: Unbounded,
		Limits:                 DefaultLimits(),
	}
}

func (o *Options) blockSize() int {
	if o.BlockSize <= 0 {
		return DefaultBlockSize
	}
	return o.BlockSize
}

// Limits bound what a decoder accepts, so that hostile streams fail fast
// with bounded memory. A zero field means the DefaultLimits value.
type Limits struct {
	MaxStringTableEntries int   // URIs, prefixes, local names and values together
	MaxValueLength        int   // code points in one string
	MaxDepth              int   // element nesting
	MaxEvents             int64 // events in one stream
	MaxOutput             int64 // decoded bytes (strings) and inflated bytes
}

// DefaultLimits returns generous limits for untrusted input.
func DefaultLimits() Limits {
	return Limits{
		MaxStringTableEntries: 1 << 20,
		MaxValueLength:        1 << 22,
		MaxDepth:              512,
		MaxEvents:             1 << 26,
		MaxOutput:             1 << 28,
	}
}

func pick[T int | int64](v, d T) T {
	if v <= 0 {
		return d
	}
	return v
}

func (l *Limits) maxValueLength() int {
	if l == nil {
		return DefaultLimits().MaxValueLength
	}
	return pick(l.MaxValueLength, DefaultLimits().MaxValueLength)
}

func (l *Limits) resolved() Limits {
	d := DefaultLimits()
	if l == nil {
		return d
	}
	return Limits{
		MaxStringTableEntries: pick(l.MaxStringTableEntries, d.MaxStringTableEntries),
		MaxValueLength:        pick(l.MaxValueLength, d.MaxValueLength),
		MaxDepth:              pick(l.MaxDepth, d.MaxDepth),
		MaxEvents:             pick(l.MaxEvents, d.MaxEvents),
		MaxOutput:             pick(l.MaxOutput, d.MaxOutput),
	}
}

// Sentinel errors callers can test with errors.Is.
var (
	// ErrMalformed reports a stream that violates EXI.
	ErrMalformed = errors.New("exi: malformed stream")
	// ErrUnsupported reports a valid feature this codec does not implement.
	ErrUnsupported = errors.New("exi: unsupported feature")
	// ErrLimit reports that a Limits bound was exceeded.
	ErrLimit = errors.New("exi: limit exceeded")
	// ErrInvalid reports encoder input that cannot be encoded.
	ErrInvalid = errors.New("exi: invalid input")
	// ErrSession reports a document that cannot continue the session-wide
	// tables (Options.SessionWideBuffers): an earlier document of the
	// session failed or was abandoned, or the options changed.
	ErrSession = errors.New("exi: session-wide tables lost")
)

// Error is a decoding error with the bit offset where it happened.
type Error struct {
	BitOffset int64
	Err       error
}

func (e *Error) Error() string {
	return fmt.Sprintf("exi: at byte %d bit %d: %v", e.BitOffset/8, e.BitOffset%8, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// LimitError names the limit a stream exceeded.
type LimitError struct {
	Limit      string
	Value, Max int64
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("%s exceeded: %d > %d", e.Limit, e.Value, e.Max)
}

// Is makes errors.Is(err, ErrLimit) true.
func (e *LimitError) Is(target error) bool { return target == ErrLimit }
