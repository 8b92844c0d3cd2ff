//go:build xiot_small

package main

import (
	"errors"

	"github.com/xiot/xiot/provisioning"
)

// tokenHolder is not in the small build: parsing private keys for token
// challenges costs about 200 KB, and reading devices with XEP-0324 tokens
// is work for a full build on a desktop or server.
func tokenHolder(*readFlags) (*provisioning.Holder, error) {
	return nil, errors.New("--token-cert/--token-key are not in this small (32-bit ARM) build of xiot; use the arm64 or amd64 build")
}
