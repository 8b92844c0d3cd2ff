package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/xiot/xiot/provisioning/registry"
)

// maxMaskWildcards bounds the wildcards of a strMask pushed into SQL as a
// pattern; a mask with more is narrowed by its literal prefix only and
// matched by registry.Matches, whose time is linear in any case.
const maxMaskWildcards = 8

// searchable is the condition of registry.Searchable.
const searchable = `WHERE t.owner <> '' AND t.public = 1 AND t.removed = 0`

// defaultProbeCap bounds the tag rows counted per operator to choose
// the one that drives a search.
const defaultProbeCap = 4096

// Search implements registry.Searcher: one query per page of candidate
// rows, every operator a condition on the tags table, and every row
// checked again with registry.Matches, so that the answer is exactly
// that of registry.ScanSearch.
func (s *Store) Search(ctx context.Context, ops []registry.Operator, offset, limit int) ([]registry.Thing, bool, error) {
	if err := registry.CheckSearch(ops); err != nil {
		return nil, false, fmt.Errorf("sqlstore: search: %w", err)
	}
	cond, args, ok, err := s.searchCond(ctx, ops)
	if err != nil {
		return nil, false, fmt.Errorf("sqlstore: search: %w", err)
	}
	if !ok {
		return nil, false, nil // an operator nothing matches
	}
	pg := registry.NewSearchPage(ops, offset, limit)
	first := min(max(offset+limit+1, 1), pageSize)
	if err := s.pages(ctx, first, cond, args, pg.Visit); err != nil {
		return nil, false, fmt.Errorf("sqlstore: search: %w", err)
	}
	return pg.Found, pg.More, nil
}

// tagCond is an operator as a condition on the tag row g of its name,
// and the condition its tags are counted with: the same, or for a mask
// the range of its literal prefix, which an index reads without looking
// at more rows than it counts.
type tagCond struct {
	cond, probe     string
	args, probeArgs []any
}

// searchCond returns the SQL condition and arguments of ops, or false
// when no thing can match (KEY, an unknown operator, an operator no tag
// satisfies). The operator that fewest tags satisfy (counted up to
// Store.probeCap) drives the query: the things it selects are read by key and
// the other operators tested on each. When every operator is that broad,
// the things are read in key order and tested, which finds the first
// page of a broad search at once.
func (s *Store) searchCond(ctx context.Context, ops []registry.Operator) (string, []any, bool, error) {
	conds := make([]tagCond, 0, len(ops))
	for _, op := range ops {
		if op.Name == registry.KeyTag {
			return "", nil, false, nil
		}
		c, a, ok := s.opCond(op)
		if !ok {
			return "", nil, false, nil
		}
		name := strings.ToUpper(op.Name)
		tc := tagCond{cond: `g.name = ? AND ` + c, args: append([]any{name}, a...)}
		tc.probe, tc.probeArgs = tc.cond, tc.args
		if op.Op == "strMask" && strings.Contains(op.Value, op.Wildcard) {
			prefix, _, _ := strings.Cut(op.Value, op.Wildcard)
			tc.probe, tc.probeArgs = `g.name = ? AND g.str IS NOT NULL`, []any{name}
			if hi, ok := prefixEnd(prefix); ok {
				tc.probe, tc.probeArgs = `g.name = ? AND g.str >= ? AND g.str < ?`, []any{name, prefix, hi}
			}
		}
		conds = append(conds, tc)
	}
	drive, fewest := -1, s.probeCap
	for i, c := range conds {
		if s.d.plans {
			break
		}
		var n int
		if err := s.db.QueryRowContext(ctx, s.d.q(`SELECT COUNT(*) FROM (SELECT 1 FROM tags g WHERE `+c.probe+` LIMIT `+fmt.Sprint(fewest)+`) p`),
			c.probeArgs...).Scan(&n); err != nil {
			return "", nil, false, err
		}
		if n == 0 {
			return "", nil, false, nil
		}
		if n < fewest {
			drive, fewest = i, n
		}
	}
	var b strings.Builder
	b.WriteString(searchable)
	var args []any
	if drive >= 0 {
		b.WriteString(` AND t.key IN (SELECT g.thing FROM tags g WHERE ` + conds[drive].cond + `)`)
		args = append(args, conds[drive].args...)
	}
	for i, c := range conds {
		if i != drive {
			b.WriteString(` AND EXISTS (SELECT 1 FROM tags g WHERE g.thing = t.key AND ` + c.cond + `)`)
			args = append(args, c.args...)
		}
	}
	return b.String(), args, true, nil
}

// opCond returns the condition on tag row g of one operator.
func (s *Store) opCond(op registry.Operator) (string, []any, bool) {
	if strings.HasPrefix(op.Op, "num") {
		return numCond(op)
	}
	switch op.Op {
	case "strEq":
		return `g.str = ?`, []any{op.Value}, true
	case "strNEq":
		return `g.str <> ?`, []any{op.Value}, true
	case "strGt":
		return `g.str > ?`, []any{op.Value}, true
	case "strGtEq":
		return `g.str >= ?`, []any{op.Value}, true
	case "strLt":
		return `g.str < ?`, []any{op.Value}, true
	case "strLtEq":
		return `g.str <= ?`, []any{op.Value}, true
	case "strRange":
		return rangeCond("g.str", op), []any{op.Min, op.Max}, true
	case "strNRange":
		return `g.str IS NOT NULL AND NOT (` + rangeCond("g.str", op) + `)`, []any{op.Min, op.Max}, true
	case "strMask":
		return s.maskCond(op.Value, op.Wildcard)
	}
	return "", nil, false
}

func numCond(op registry.Operator) (string, []any, bool) {
	switch op.Op {
	case "numEq":
		return `g.num = ?`, []any{op.Num}, true
	case "numNEq":
		return `g.num <> ?`, []any{op.Num}, true
	case "numGt":
		return `g.num > ?`, []any{op.Num}, true
	case "numGtEq":
		return `g.num >= ?`, []any{op.Num}, true
	case "numLt":
		return `g.num < ?`, []any{op.Num}, true
	case "numLtEq":
		return `g.num <= ?`, []any{op.Num}, true
	case "numRange":
		return rangeCond("g.num", op), []any{op.MinNum, op.MaxNum}, true
	case "numNRange":
		return `g.num IS NOT NULL AND NOT (` + rangeCond("g.num", op) + `)`, []any{op.MinNum, op.MaxNum}, true
	}
	return "", nil, false
}

// rangeCond is col between two placeholders, each end included as op
// says.
func rangeCond(col string, op registry.Operator) string {
	lo, hi := " > ?", " < ?"
	if op.MinIncluded {
		lo = " >= ?"
	}
	if op.MaxIncluded {
		hi = " <= ?"
	}
	return col + lo + " AND " + col + hi
}

// maskCond is a strMask as a GLOB (SQLite) or LIKE (PostgreSQL) pattern:
// the literal parts escaped, each wildcard the engine's any-sequence
// metacharacter. With no wildcard it is an equality; with more than
// maxMaskWildcards, a range on the literal prefix.
func (s *Store) maskCond(mask, wildcard string) (string, []any, bool) {
	parts := strings.Split(mask, wildcard)
	if len(parts) == 1 {
		return `g.str = ?`, []any{mask}, true
	}
	if len(parts)-1 > maxMaskWildcards {
		if hi, ok := prefixEnd(parts[0]); ok {
			return `g.str >= ? AND g.str < ?`, []any{parts[0], hi}, true
		}
		return `g.str IS NOT NULL`, nil, true
	}
	var b strings.Builder
	for i, p := range parts {
		if i > 0 && (i == 1 || parts[i-1] != "") { // consecutive wildcards are one
			b.WriteString(s.d.maskAny)
		}
		b.WriteString(s.d.maskMeta.Replace(p))
	}
	return s.d.mask, []any{b.String()}, true
}

// ThingsOwnedBy implements registry.Searcher.
func (s *Store) ThingsOwnedBy(ctx context.Context, owner string, f func(registry.Thing) bool) error {
	if err := s.pages(ctx, pageSize, `WHERE t.owner = ?`, []any{owner}, f); err != nil {
		return fmt.Errorf("sqlstore: things of %s: %w", owner, err)
	}
	return nil
}

// ThingsTagged implements registry.Searcher.
func (s *Store) ThingsTagged(ctx context.Context, tag registry.Tag, f func(registry.Thing) bool) error {
	cond, arg := `g.str = ?`, any(tag.Value)
	if tag.Numeric {
		cond, arg = `g.num = ?`, tag.Num
	}
	if err := s.pages(ctx, pageSize, `WHERE t.key IN (SELECT g.thing FROM tags g WHERE g.name = ? AND `+cond+`)`,
		[]any{tag.Name, arg}, f); err != nil {
		return fmt.Errorf("sqlstore: things tagged %s: %w", tag.Name, err)
	}
	return nil
}
