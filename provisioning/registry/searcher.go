package registry

import (
	"context"
	"fmt"
	"strings"
)

// Searcher is implemented by a Store that finds things from indexes
// instead of a scan of every thing: searches, claims and owners'
// listings then cost what they return, not the size of the registry. Its
// answers must be exactly those of the scans (ScanSearch, and Things
// filtered by tag or owner): Matches stays the reference.
type Searcher interface {
	// Search returns, in key order, the claimed, public, not removed
	// things that Matches ops, skipping the first offset of them and
	// returning at most limit; more reports whether others follow.
	Search(ctx context.Context, ops []Operator, offset, limit int) (found []Thing, more bool, err error)
	// ThingsOwnedBy calls f for every thing whose Owner is owner, in key
	// order, until f returns false. f must not call the store.
	ThingsOwnedBy(ctx context.Context, owner string, f func(Thing) bool) error
	// ThingsTagged calls f for every thing that has tag (the same name,
	// type and value; KEY included), in key order, until f returns
	// false. f must not call the store.
	ThingsTagged(ctx context.Context, tag Tag, f func(Thing) bool) error
}

// CheckSearch refuses searches no registry answers: no operators, more
// than MaxOperators, string operands longer than MaxTagValue characters,
// or a strMask wildcard that is empty or longer than MaxWildcard. The
// wire decoder already refuses them; stores call it for other callers.
func CheckSearch(ops []Operator) error {
	if len(ops) == 0 || len(ops) > MaxOperators {
		return fmt.Errorf("%w: a search needs 1 to %d operators, not %d", ErrMalformed, MaxOperators, len(ops))
	}
	for _, op := range ops {
		for _, s := range []string{op.Value, op.Min, op.Max, op.Wildcard} {
			if len([]rune(s)) > MaxTagValue {
				return fmt.Errorf("%w: %s %s: operand longer than %d characters", ErrMalformed, op.Op, op.Name, MaxTagValue)
			}
			if strings.ContainsRune(s, 0) {
				// No XML text carries it, and SQL engines compare
				// strings only up to it.
				return fmt.Errorf("%w: %s %s: NUL character in an operand", ErrMalformed, op.Op, op.Name)
			}
		}
		if op.Op == "strMask" && (op.Wildcard == "" || len([]rune(op.Wildcard)) > MaxWildcard) {
			return fmt.Errorf("%w: strMask needs a wildcard of 1 to %d characters", ErrMalformed, MaxWildcard)
		}
	}
	return nil
}

// Searchable reports whether a search may return t: claimed, public and
// not removed.
func Searchable(t Thing) bool { return t.Claimed() && t.Public && !t.Removed }

// ScanSearch answers a search by scanning every thing of s with Matches:
// the reference every Searcher must agree with, and what the registry
// does with a store that is not a Searcher.
func ScanSearch(ctx context.Context, s Store, ops []Operator, offset, limit int) ([]Thing, bool, error) {
	pg := NewSearchPage(ops, offset, limit)
	err := s.Things(ctx, "", pg.Visit)
	return pg.Found, pg.More, err
}

// SearchPage collects one page of search results from things offered in
// key order: the searchable ones that match every operator, after the
// first offset of them, at most limit.
type SearchPage struct {
	ops         []Operator
	skip, limit int
	// Found is the page; More tells that matching things follow it.
	Found []Thing
	More  bool
}

// NewSearchPage returns an empty page for a search.
func NewSearchPage(ops []Operator, offset, limit int) *SearchPage {
	return &SearchPage{ops: ops, skip: offset, limit: limit}
}

// Visit offers t to the page; it reports whether more things are wanted.
func (p *SearchPage) Visit(t Thing) bool {
	if !Searchable(t) || !Matches(t, p.ops) {
		return true
	}
	if p.skip > 0 {
		p.skip--
		return true
	}
	if len(p.Found) == p.limit {
		p.More = true
		return false
	}
	p.Found = append(p.Found, t)
	return true
}

// searchThings answers a search from the store's indexes when it has
// them.
func (s *Server) searchThings(ctx context.Context, ops []Operator, offset, limit int) ([]Thing, bool, error) {
	if x, ok := s.store.(Searcher); ok {
		return x.Search(ctx, ops, offset, limit)
	}
	return ScanSearch(ctx, s.store, ops, offset, limit)
}

// ownedBy calls f for every thing of owner, in key order.
func (s *Server) ownedBy(ctx context.Context, owner string, f func(Thing) bool) error {
	if x, ok := s.store.(Searcher); ok {
		return x.ThingsOwnedBy(ctx, owner, f)
	}
	return s.store.Things(ctx, "", func(t Thing) bool {
		if t.Owner != owner {
			return true
		}
		return f(t)
	})
}

// withTags calls f, in key order, for every thing that may have exactly
// tags: with a Searcher, the things having the first of them (KEY when
// given, the most selective); otherwise every thing.
func (s *Server) withTags(ctx context.Context, tags []Tag, f func(Thing) bool) error {
	x, ok := s.store.(Searcher)
	if !ok || len(tags) == 0 {
		return s.store.Things(ctx, "", f)
	}
	pick := tags[0]
	for _, g := range tags {
		if g.Name == KeyTag {
			pick = g
		}
	}
	return x.ThingsTagged(ctx, pick, f)
}

// Locker is implemented by a Store that several registry processes may
// share (PostgreSQL): the registry holds its lock around each
// read-modify-write sequence (claims, updates, rules, notifications
// recorded), as it holds its own mutex within one process.
type Locker interface {
	// Lock waits for the store-wide lock, or for ctx to end, and returns
	// the function that releases it.
	Lock(ctx context.Context) (unlock func(), err error)
}

// lock serialises a read-modify-write sequence: s.mu and, when the store
// is a Locker, its lock.
func (s *Server) lock(ctx context.Context) (func(), error) {
	s.mu.Lock()
	l, ok := s.store.(Locker)
	if !ok {
		return s.mu.Unlock, nil
	}
	unlock, err := l.Lock(ctx)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	return func() { unlock(); s.mu.Unlock() }, nil
}
