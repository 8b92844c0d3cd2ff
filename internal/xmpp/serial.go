package xmpp

import (
	"context"
	"sync"
)

// Serial returns a handler that runs h on a goroutine of its own, one
// stanza at a time in arrival order. h may then block — wait for an IQ
// answer (SendIQ), ask a provisioning server — without stalling the
// session's reading loop, which must keep reading to deliver that answer.
// At most queue stanzas wait (default 64); beyond that an IQ request is
// refused with wait/resource-constraint and other stanzas are dropped.
// Errors h returns for IQ requests become error replies, as with any
// handler.
func Serial(h Handler, queue int) Handler {
	if queue <= 0 {
		queue = 64
	}
	return &serial{h: h, q: make(chan serialItem, queue)}
}

type serialItem struct {
	ctx context.Context
	s   *Session
	st  *Element
}

type serial struct {
	h    Handler
	q    chan serialItem
	once sync.Once
}

func (sh *serial) HandleStanza(ctx context.Context, s *Session, st *Element) error {
	sh.once.Do(func() { go sh.run() })
	select {
	case sh.q <- serialItem{ctx, s, st}:
		return nil
	default:
		if st.Name.Local == "iq" {
			return NewStanzaError("wait", "resource-constraint", "too many requests waiting; try again later")
		}
		s.log.Warn("dropping a stanza: handler queue full", "from", st.Get("from"), "kind", st.Name.Local)
		return nil
	}
}

func (sh *serial) run() {
	for it := range sh.q {
		if err := sh.h.HandleStanza(it.ctx, it.s, it.st); err != nil {
			if it.st.Name.Local == "iq" {
				it.s.replyError(it.ctx, it.st, err)
			} else {
				it.s.log.Debug("handler", "kind", it.st.Name.Local, "from", it.st.Get("from"), "err", err)
			}
		}
	}
}
