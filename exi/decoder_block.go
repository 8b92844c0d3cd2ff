package exi

import (
	"fmt"
	"io"

	"github.com/klauspost/compress/flate"
)

// next returns the next event; the pointer is valid until the call after
// the following one.
func (d *Decoder) next() (*event, error) {
	if d.err != nil {
		return nil, d.err
	}
	if d.qpos < len(d.q) {
		d.qpos++
		return &d.q[d.qpos-1], nil
	}
	if d.state == stDone {
		return nil, io.EOF
	}
	if err := d.fill(); err != nil {
		return nil, d.setErr(err)
	}
	d.qpos = 1
	return &d.q[0], nil
}

func (d *Decoder) unread() { d.qpos-- }

func (d *Decoder) fill() error {
	d.q, d.qpos = d.q[:0], 0
	if d.opts.Alignment < PreCompression {
		d.q = append(d.q, event{})
		return d.decodeEvent(&d.q[0])
	}
	return d.block()
}

// inflate decompresses the next DEFLATE stream of a compressed body.
func (d *Decoder) inflate() error {
	if _, err := d.zin.Peek(1); err != nil {
		if err == io.EOF {
			d.r.reset(nil, nil) // no more streams: reads fail at the end
			return nil
		}
		return &Error{BitOffset: d.zoffset() * 8, Err: fmt.Errorf("read: %w", err)}
	}
	if d.zr == nil {
		d.zr = flate.NewReader(d.zin)
	} else if err := d.zr.(flate.Resetter).Reset(d.zin, nil); err != nil {
		return fmt.Errorf("inflate: %w", err)
	}
	limit := d.lim.MaxOutput - d.output
	d.zbuf.Reset()
	_, err := d.zbuf.ReadFrom(io.LimitReader(d.zr, limit+1))
	buf := d.zbuf.Bytes()
	if err != nil {
		return &Error{BitOffset: d.zoffset() * 8, Err: fmt.Errorf("inflate: %w", err)}
	}
	if int64(len(buf)) > limit {
		return &LimitError{Limit: "MaxOutput", Value: d.output + int64(len(buf)), Max: d.lim.MaxOutput}
	}
	d.output += int64(len(buf))
	d.r.reset(nil, buf)
	d.r.aligned = true
	return nil
}

// block decodes one block of a pre-compression or compression body: the
// structure channel, then the value channels (§9).
func (d *Decoder) block() error {
	compressed := d.opts.Alignment == Compression
	if compressed {
		if err := d.inflate(); err != nil {
			return err
		}
	}
	bs := d.opts.blockSize()
	d.nvalues = 0
	for d.nvalues < bs && d.state != stDone {
		d.q = append(d.q, event{})
		if err := d.decodeEvent(&d.q[len(d.q)-1]); err != nil {
			return err
		}
		if d.q[len(d.q)-1].kind == evNone {
			d.q = d.q[:len(d.q)-1]
		}
	}
	readCh := func(c *channel) error {
		for i := range c.vals {
			var s string
			var err error
			if d.sg != nil {
				s, err = d.readTyped(c.ln, int(c.dts[i]), 0)
			} else {
				s, err = d.t.decodeValue(&d.r, &d.opts, c.ln, nil)
			}
			if err != nil {
				return err
			}
			if err := d.count(len(s)); err != nil {
				return err
			}
			if d.t.entries > d.lim.MaxStringTableEntries {
				return d.r.fail(&LimitError{Limit: "MaxStringTableEntries", Value: int64(d.t.entries), Max: int64(d.lim.MaxStringTableEntries)})
			}
			c.vals[i] = s
		}
		return nil
	}
	if d.nvalues <= 100 {
		for _, c := range d.chans {
			if err := readCh(c); err != nil {
				return err
			}
		}
	} else {
		small := false
		for _, c := range d.chans {
			small = small || len(c.vals) <= 100
		}
		if compressed && small {
			if err := d.inflate(); err != nil {
				return err
			}
		}
		for _, c := range d.chans {
			if len(c.vals) <= 100 {
				if err := readCh(c); err != nil {
					return err
				}
			}
		}
		for _, c := range d.chans {
			if len(c.vals) > 100 {
				if compressed {
					if err := d.inflate(); err != nil {
						return err
					}
				}
				if err := readCh(c); err != nil {
					return err
				}
			}
		}
	}
	// hand the values to their events in document order
	for i := range d.q {
		ev := &d.q[i]
		if ev.inChannel {
			c := ev.ln.ch
			ev.value = c.vals[c.pos]
			c.pos++
		}
	}
	for _, c := range d.chans {
		c.ln.ch = nil
		c.vals, c.dts = c.vals[:0], c.dts[:0]
	}
	d.chans = d.chans[:0]
	return nil
}

// countReader counts the bytes read through it.
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// zoffset is the offset in the stream of the next compressed byte.
func (d *Decoder) zoffset() int64 { return d.zsrc.n - int64(d.zin.Buffered()) }
