package exi

// Built-in grammars (EXI §8.4). Learned productions are kept in learning
// order; the most recently learned one has event code 0.

// evKind is the kind of an EXI event (EXI §4).
type evKind uint8

const (
	evNone evKind = iota
	evSD
	evED
	evSE
	evEE
	evAT
	evCH
	evNS
	evSC
	evCM
	evPI
	evDT
	evER
	evEsc // escape to the next event-code level
)

// gstate is a non-terminal of the built-in grammars.
type gstate uint8

const (
	stDocContent gstate = iota
	stDocEnd
	stFragment
	stStartTag // StartTagContent of the element on top of the stack
	stContent  // ElementContent of the element on top of the stack
	stDone
)

// prod is a learned production.
type prod struct {
	kind evKind
	ln   *localName // SE and AT only
}

// elemGrammar is a learned built-in element grammar (§8.4.3), shared by all
// elements with the same qname.
type elemGrammar struct {
	stc []prod // StartTagContent
	ec  []prod // ElementContent

	first int32 // encoder: index in stc of the first production matched in the last start tag
}

func findProd(ps []prod, kind evKind, ln *localName) int {
	for i := len(ps) - 1; i >= 0; i-- {
		if ps[i].kind == kind && ps[i].ln == ln {
			return len(ps) - 1 - i // event code
		}
	}
	return -1
}

// levels lists the fixed (non-learned) productions of each grammar state
// by event-code level, pruned by the fidelity options (§8.3). A level ends
// in evEsc when a deeper level exists.
type levels [stDone][3][]evKind

// levelsOpts are the options buildLevels depends on.
type levelsOpts struct {
	p  Preserve
	sc bool
}

func levelsKey(o *Options) levelsOpts { return levelsOpts{o.Preserve, o.SelfContained} }

func buildLevels(o *Options) *levels {
	var L levels
	p := o.Preserve
	var cmpi []evKind
	if p.Comments {
		cmpi = append(cmpi, evCM)
	}
	if p.PIs {
		cmpi = append(cmpi, evPI)
	}
	esc := func(l []evKind, deeper []evKind) []evKind {
		if len(deeper) > 0 {
			return append(l, evEsc)
		}
		return l
	}
	// DocContent: SE(*) 0, DT 1.0, CM 1.1.0, PI 1.1.1
	var doc2 []evKind
	if p.DTD {
		doc2 = append(doc2, evDT)
	}
	doc2 = esc(doc2, cmpi)
	L[stDocContent] = [3][]evKind{esc([]evKind{evSE}, doc2), doc2, cmpi}
	// DocEnd: ED 0, CM 1.0, PI 1.1
	L[stDocEnd] = [3][]evKind{esc([]evKind{evED}, cmpi), cmpi}
	// FragmentContent: SE(*) 0, ED 1, CM 2.0, PI 2.1
	L[stFragment] = [3][]evKind{esc([]evKind{evSE, evED}, cmpi), cmpi}
	// StartTagContent: EE 0.0, AT(*) 0.1, NS 0.2, SC 0.3, SE(*) 0.4, CH 0.5, ER 0.6, CM 0.7.0, PI 0.7.1
	stc2 := []evKind{evEE, evAT}
	if p.Prefixes {
		stc2 = append(stc2, evNS)
	}
	if o.SelfContained {
		stc2 = append(stc2, evSC)
	}
	stc2 = append(stc2, evSE, evCH)
	if p.DTD {
		stc2 = append(stc2, evER)
	}
	stc2 = esc(stc2, cmpi)
	L[stStartTag] = [3][]evKind{{evEsc}, stc2, cmpi}
	// ElementContent: EE 0, SE(*) 1.0, CH 1.1, ER 1.2, CM 1.3.0, PI 1.3.1
	ec2 := []evKind{evSE, evCH}
	if p.DTD {
		ec2 = append(ec2, evER)
	}
	ec2 = esc(ec2, cmpi)
	L[stContent] = [3][]evKind{{evEE, evEsc}, ec2, cmpi}
	return &L
}

func indexKind(l []evKind, k evKind) int {
	for i, x := range l {
		if x == k {
			return i
		}
	}
	return -1
}
