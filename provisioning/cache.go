package provisioning

import (
	"container/list"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/xiot/xiot/internal/xmpp"
)

// cache holds the provisioning server's decisions, keyed by the question
// (its kind, the requester's bare JID and everything else it carries).
// XEP-0324 §5.2: decisions hold until the server sends clearCache; when
// memory is short the least recently used go first; as a safety valve,
// entries unused for maxIdle are dropped too.
type cache struct {
	mu      sync.Mutex
	max     int
	maxIdle time.Duration // <= 0: never
	now     func() time.Time
	lru     list.List // of *entry, most recently used first
	byKey   map[string]*list.Element
	gen     uint64 // bumped by clear, so that answers to older questions are not stored
}

type entry struct {
	key  string
	who  string  // requester's bare JID
	q    element // the question, for SaveCache; nil in some tests
	val  any
	used time.Time
}

// element is a value of this package that encodes to XML.
type element interface{ Element() *xmpp.Element }

func newCache(max int, maxIdle time.Duration, now func() time.Time) *cache {
	return &cache{max: max, maxIdle: maxIdle, now: now, byKey: map[string]*list.Element{}}
}

// get returns the cached decision for key and marks it used.
func (c *cache) get(key string) (any, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[key]
	if !ok {
		return nil, false
	}
	e := el.Value.(*entry)
	now := c.now()
	if c.maxIdle > 0 && now.Sub(e.used) > c.maxIdle {
		c.remove(el)
		return nil, false
	}
	e.used = now
	c.lru.MoveToFront(el)
	return e.val, true
}

// generation returns the current generation, to be passed to put.
func (c *cache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put stores a decision obtained by a question asked in generation gen; it
// is dropped if the cache was cleared since, as it may predate the change
// that caused the clearing.
func (c *cache) put(key, who string, val any, gen uint64) {
	c.putQ(key, who, nil, val, gen)
}

// putQ is put keeping the question too.
func (c *cache) putQ(key, who string, q element, val any, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen || c.max <= 0 {
		return
	}
	now := c.now()
	if el, ok := c.byKey[key]; ok {
		e := el.Value.(*entry)
		e.q, e.val, e.used = q, val, now
		c.lru.MoveToFront(el)
		return
	}
	c.byKey[key] = c.lru.PushFront(&entry{key: key, who: who, q: q, val: val, used: now})
	for c.lru.Len() > c.max {
		c.remove(c.lru.Back())
	}
	c.expire(now)
}

// expire drops entries unused for longer than maxIdle, oldest first.
func (c *cache) expire(now time.Time) {
	if c.maxIdle <= 0 {
		return
	}
	for el := c.lru.Back(); el != nil; el = c.lru.Back() {
		if now.Sub(el.Value.(*entry).used) <= c.maxIdle {
			return
		}
		c.remove(el)
	}
}

func (c *cache) remove(el *list.Element) {
	delete(c.byKey, el.Value.(*entry).key)
	c.lru.Remove(el)
}

// clear forgets everything.
func (c *cache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.lru.Init()
	c.byKey = map[string]*list.Element{}
}

// forget drops every decision about the bare JID who; answers to questions
// about who that are in flight are not stored either.
func (c *cache) forget(who string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for el := c.lru.Front(); el != nil; {
		next := el.Next()
		if el.Value.(*entry).who == who {
			c.remove(el)
		}
		el = next
	}
}

// entries returns the questions and answers cached, least recently used
// first.
func (c *cache) entries() [][2]element {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out [][2]element
	for el := c.lru.Back(); el != nil; el = el.Prev() {
		e := el.Value.(*entry)
		if a, ok := e.val.(element); ok && e.q != nil {
			out = append(out, [2]element{e.q, a})
		}
	}
	return out
}

// len returns the number of cached decisions.
func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// keyOf builds a cache key from parts, each length-prefixed so that no two
// different questions share a key.
func keyOf(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		b.WriteString(strconv.Itoa(len(p)))
		b.WriteByte(':')
		b.WriteString(p)
	}
	return b.String()
}

// nodesKey lists node references in a canonical (sorted, deduplicated)
// form, since the order of nodes in a question does not matter.
func nodesKey(nodes []NodeRef) string {
	parts := make([]string, 0, len(nodes))
	for _, n := range nodes {
		parts = append(parts, keyOf(n.NodeID, n.SourceID, n.CacheType))
	}
	return canonical(parts)
}

// namesKey lists field or parameter names in canonical form.
func namesKey(names []string) string {
	parts := make([]string, 0, len(names))
	for _, n := range names {
		parts = append(parts, keyOf(n))
	}
	return canonical(parts)
}

func canonical(parts []string) string {
	slices.Sort(parts)
	var b strings.Builder
	for i, p := range parts {
		if i > 0 && parts[i-1] == p {
			continue
		}
		b.WriteString(p)
	}
	return b.String()
}
