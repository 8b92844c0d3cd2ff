package xmpp

import (
	"strconv"
	"sync"
)

// smState is the XEP-0198 state that outlives a connection: the outgoing
// stanzas not yet acknowledged, and the count of incoming stanzas handled.
//
// Outgoing stanzas are numbered from 1 in each stream-management session;
// the server's <a h='N'/> says it has handled the first N, so entries up to
// N are dropped. After a resumption the remaining entries are sent again;
// after a new session they are renumbered and sent as new stanzas.
type smState struct {
	mu        sync.Mutex
	on        bool   // enabled on the current stream
	id        string // resumption id
	resumable bool
	inH       uint32 // incoming stanzas handled
	outSeq    uint32 // number given to the last queued stanza
	queue     []queued
	max       int
}

type queued struct {
	seq uint32
	el  *Element
}

func (m *smState) enabled(id string, resumable bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.on, m.id, m.resumable = true, id, resumable && id != ""
	m.inH, m.outSeq = 0, 0
	for i := range m.queue {
		m.outSeq++
		m.queue[i].seq = m.outSeq
	}
}

func (m *smState) disabled() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.on, m.id, m.resumable = false, "", false
	m.inH, m.outSeq = 0, 0
}

// resumeToken returns the previous stream's id and our handled count.
func (m *smState) resumeToken() (string, uint32, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.id, m.inH, m.resumable
}

// resumeFailed forgets the old stream; h, when present, acknowledges what
// the server did receive so that it is not sent twice.
func (m *smState) resumeFailed(h string) {
	if n, err := strconv.ParseUint(h, 10, 32); err == nil {
		m.ack(uint32(n))
	}
	m.mu.Lock()
	m.id, m.resumable, m.on = "", false, false
	m.mu.Unlock()
}

// push queues an outgoing stanza. It reports false when the queue is full.
func (m *smState) push(el *Element) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.queue) >= m.max {
		return false
	}
	m.outSeq++
	m.queue = append(m.queue, queued{seq: m.outSeq, el: el})
	return true
}

// ack drops the queued stanzas the server has handled.
func (m *smState) ack(h uint32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	i := 0
	for i < len(m.queue) && int32(h-m.queue[i].seq) >= 0 {
		i++
	}
	m.queue = m.queue[i:]
	if len(m.queue) == 0 {
		m.queue = nil
	}
}

// pending returns the queued stanzas in order.
func (m *smState) pending() []*Element {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*Element, len(m.queue))
	for i, q := range m.queue {
		out[i] = q.el
	}
	return out
}

func (m *smState) unacked() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.queue)
}

func (m *smState) handled() uint32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.inH++
	return m.inH
}

func (m *smState) h() uint32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.inH
}

func (m *smState) active() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.on
}

// dropAll empties the queue when stream management is off: what was
// written is gone either way.
func (m *smState) dropAll() {
	m.mu.Lock()
	m.queue = nil
	m.mu.Unlock()
}
