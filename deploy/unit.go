package deploy

import _ "embed"

// Unit is the systemd unit of the agent (xiot.service), as `xiot install`
// writes it.
//
//go:embed xiot.service
var Unit string
