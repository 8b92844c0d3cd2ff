package schema

import (
	"fmt"
	"strings"
)

// render prints the non-terminals of grammar gi reachable from 0 through
// declared productions, numbered breadth-first, one line each:
// "N: EVENT->M ..." with event codes given by position.
func render(g *Grammars, gi int) string {
	gr := g.Grammars[gi]
	num := map[int]int{0: 0}
	queue := []int{0}
	var b strings.Builder
	for i := 0; i < len(queue); i++ {
		nt := gr.NonTerminals[queue[i]]
		fmt.Fprintf(&b, "%d:", i)
		for _, p := range nt.Productions {
			ev := p.Event.String()
			switch p.Event {
			case EventAT, EventSE:
				ev += "(" + p.Name.String() + ")"
			case EventATNS, EventSENS:
				ev = ev[:2] + "(" + p.Name.URI + ":*)"
			}
			if p.Next == End {
				fmt.Fprintf(&b, " %s", ev)
				continue
			}
			m, ok := num[p.Next]
			if !ok {
				m = len(queue)
				num[p.Next] = m
				queue = append(queue, p.Next)
			}
			fmt.Fprintf(&b, " %s->%d", ev, m)
		}
		b.WriteByte('\n')
	}
	return b.String()
}
