package component

import "github.com/xiot/xiot/sensors/sensordata"

// tree holds the state of the XEP-0326 interface of the component's own
// JID beyond what the bridge knows: readouts in progress.
type tree struct {
	c     *Component
	reads rootReads
}

// newTree prepares the tree state of c.
func newTree(c *Component) (*tree, error) {
	return &tree{c: c, reads: rootReads{jobs: map[string]*sensordata.Server{}}}, nil
}
