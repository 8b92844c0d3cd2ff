package schema

// resolveComplex fills attributes, wildcard, content kind and particle of
// a complex type definition.
func (c *compiler) resolveComplex(t *xType) error {
	n := t.node
	if t.builtin { // anyType, set up by addBuiltins
		return nil
	}
	mixed := n.attrs["mixed"] == "true" || n.attrs["mixed"] == "1"
	body := n
	derivation := ""
	if cc := n.kid("complexContent"); cc != nil {
		if v, ok := cc.attr("mixed"); ok {
			mixed = v == "true" || v == "1"
		}
		body = cc.kid("extension")
		derivation = "extension"
		if body == nil {
			body = cc.kid("restriction")
			derivation = "restriction"
		}
		if body == nil {
			return c.errf(cc, "complexContent without extension or restriction")
		}
	} else if sc := n.kid("simpleContent"); sc != nil {
		return c.resolveSimpleContent(t, sc)
	}
	anyType := c.types[QName{NSXSD, "anyType"}]
	t.base = anyType
	if derivation != "" {
		q, err := body.resolveQName(body.attrs["base"])
		if err != nil {
			return err
		}
		if t.base, err = c.typeByName(q, body); err != nil {
			return err
		}
		if err := c.resolve(t.base); err != nil {
			return err
		}
	}
	own, err := c.particleOf(body)
	if err != nil {
		return err
	}
	attrs, wild, err := c.attributesOf(body)
	if err != nil {
		return err
	}
	if derivation == "extension" {
		b := t.base
		t.attrs = mergeAttrs(b.attrs, attrs, nil)
		t.wild = unionWild(b.wild, wild)
		switch {
		case isEmptyParticle(own):
			t.particle = b.particle
		case isEmptyParticle(b.particle):
			t.particle = own
		default:
			t.particle = &xParticle{min: 1, max: 1, group: &xGroup{kind: "sequence", parts: []*xParticle{b.particle, own}}}
		}
		if b.content == contentMixed && !mixed && derivation == "extension" {
			mixed = true
		}
		if b.content == contentSimple {
			t.content, t.dt, t.si = contentSimple, b.dt, b.si
			return nil
		}
	} else {
		var prohibited []QName
		for _, a := range body.kids("attribute") {
			if a.attrs["use"] == "prohibited" {
				au, err := c.attribute(a)
				if err != nil {
					return err
				}
				prohibited = append(prohibited, au.name)
			}
		}
		if derivation == "restriction" {
			t.attrs = mergeAttrs(t.base.attrs, attrs, prohibited)
		} else {
			t.attrs = attrs
		}
		t.wild = wild
		t.particle = own
	}
	switch {
	case !isEmptyParticle(t.particle) && mixed:
		t.content = contentMixed
	case !isEmptyParticle(t.particle):
		t.content = contentElement
	case mixed:
		t.content = contentMixed
		t.particle = nil
	default:
		t.content = contentEmpty
		t.particle = nil
	}
	return nil
}

// resolveSimpleContent handles complexType/simpleContent.
func (c *compiler) resolveSimpleContent(t *xType, sc *node) error {
	body := sc.kid("extension")
	ext := true
	if body == nil {
		body, ext = sc.kid("restriction"), false
	}
	if body == nil {
		return c.errf(sc, "simpleContent without extension or restriction")
	}
	q, err := body.resolveQName(body.attrs["base"])
	if err != nil {
		return err
	}
	if t.base, err = c.typeByName(q, body); err != nil {
		return err
	}
	if err := c.resolve(t.base); err != nil {
		return err
	}
	attrs, wild, err := c.attributesOf(body)
	if err != nil {
		return err
	}
	b := t.base
	t.content = contentSimple
	if ext {
		t.attrs = mergeAttrs(b.attrs, attrs, nil)
		t.wild = unionWild(b.wild, wild)
		t.si, t.dt = b.si, b.dt
		return nil
	}
	var prohibited []QName
	for _, a := range body.kids("attribute") {
		if a.attrs["use"] == "prohibited" {
			au, err := c.attribute(a)
			if err != nil {
				return err
			}
			prohibited = append(prohibited, au.name)
		}
	}
	t.attrs = mergeAttrs(b.attrs, attrs, prohibited)
	t.wild = wild
	// The restricted simple type: base content type plus facets.
	baseSI := b.si
	if st := body.kid("simpleType"); st != nil {
		bt := c.anonType(st)
		if err := c.resolve(bt); err != nil {
			return err
		}
		baseSI = bt.si
	}
	if baseSI == nil {
		return c.errf(body, "simpleContent restriction of a type without simple content")
	}
	si, err := c.applyFacets(baseSI, body)
	if err != nil {
		return err
	}
	t.si = si
	t.dt, err = c.datatypeFor(t, si)
	return err
}

// mergeAttrs overlays own attribute uses on base's, dropping prohibited.
func mergeAttrs(base, own []*xAttrUse, prohibited []QName) []*xAttrUse {
	out := make([]*xAttrUse, 0, len(base)+len(own))
	isProhibited := func(q QName) bool {
		for _, p := range prohibited {
			if p == q {
				return true
			}
		}
		return false
	}
	for _, b := range base {
		overridden := false
		for _, o := range own {
			if o.name == b.name {
				overridden = true
			}
		}
		if !overridden && !isProhibited(b.name) {
			out = append(out, b)
		}
	}
	for _, o := range own {
		if !isProhibited(o.name) {
			out = append(out, o)
		}
	}
	return out
}

// attributesOf collects attribute uses and the attribute wildcard of a
// complexType, extension, restriction or attributeGroup node.
func (c *compiler) attributesOf(n *node) ([]*xAttrUse, *xWild, error) {
	var attrs []*xAttrUse
	var wild *xWild
	seen := map[*node]bool{}
	var walk func(n *node, depth int) error
	walk = func(n *node, depth int) error {
		if depth > 64 {
			return c.errf(n, "attributeGroup nesting too deep")
		}
		for _, k := range n.children {
			if k.name.URI != NSXSD {
				continue
			}
			switch k.name.Local {
			case "attribute":
				if k.attrs["use"] == "prohibited" {
					continue
				}
				au, err := c.attribute(k)
				if err != nil {
					return err
				}
				attrs = mergeAttrs(attrs, []*xAttrUse{au}, nil)
			case "attributeGroup":
				q, err := k.resolveQName(k.attrs["ref"])
				if err != nil {
					return err
				}
				g, ok := c.s.attrGroups[q]
				if !ok {
					return c.errf(k, "unknown attributeGroup %s", q)
				}
				if seen[g] {
					continue
				}
				seen[g] = true
				if err := walk(g, depth+1); err != nil {
					return err
				}
			case "anyAttribute":
				wild = intersectWild(wild, wildcard(k))
			}
		}
		return nil
	}
	err := walk(n, 0)
	return attrs, wild, err
}

// particleOf returns the content particle declared directly under n
// (group, all, choice or sequence), or nil.
func (c *compiler) particleOf(n *node) (*xParticle, error) {
	for _, k := range n.children {
		if k.name.URI != NSXSD {
			continue
		}
		switch k.name.Local {
		case "group", "all", "choice", "sequence":
			return c.particle(k)
		}
	}
	return nil, nil
}

// particle converts a particle node (element, any, group ref, model group).
func (c *compiler) particle(n *node) (*xParticle, error) {
	min, max, err := occurs(n)
	if err != nil {
		return nil, err
	}
	p := &xParticle{min: min, max: max}
	switch n.name.Local {
	case "element":
		if p.elem, err = c.element(n); err != nil {
			return nil, err
		}
	case "any":
		p.wild = wildcard(n)
	case "group":
		q, err := n.resolveQName(n.attrs["ref"])
		if err != nil {
			return nil, err
		}
		g, ok := c.s.groups[q]
		if !ok {
			return nil, c.errf(n, "unknown group %s", q)
		}
		c.groupDep++
		defer func() { c.groupDep-- }()
		if c.groupDep > 64 {
			return nil, c.errf(n, "circular or too deep group references")
		}
		inner, err := c.particleOf(g)
		if err != nil {
			return nil, err
		}
		if inner == nil {
			return nil, nil
		}
		p.group = &xGroup{kind: "sequence", parts: []*xParticle{inner}}
		if inner.min == 1 && inner.max == 1 {
			p.group = inner.group
		}
	case "sequence", "choice", "all":
		p.group = &xGroup{kind: n.name.Local}
		for _, k := range n.children {
			if k.name.URI != NSXSD {
				continue
			}
			switch k.name.Local {
			case "element", "any", "group", "sequence", "choice", "all":
				kp, err := c.particle(k)
				if err != nil {
					return nil, err
				}
				if kp != nil {
					p.group.parts = append(p.group.parts, kp)
				}
			}
		}
	default:
		return nil, c.errf(n, "unexpected particle")
	}
	return p, nil
}

// isEmptyParticle reports whether p can only match the empty sequence.
func isEmptyParticle(p *xParticle) bool {
	if p == nil || p.max == 0 {
		return true
	}
	if p.group == nil {
		return false
	}
	for _, k := range p.group.parts {
		if !isEmptyParticle(k) {
			return false
		}
	}
	return true
}
