//go:build !xiot_small

package main

import "github.com/xiot/xiot/provisioning"

// tokenHolder answers the provisioning server's challenges of the tokens
// of rf with the key of --token-cert.
func tokenHolder(rf *readFlags) (*provisioning.Holder, error) {
	_, key, err := loadIdentity(rf.tokenCert, rf.tokenKey)
	if err != nil {
		return nil, err
	}
	return provisioning.NewHolder(provisioning.Tokens{Service: rf.serviceToken, Device: rf.deviceToken, User: rf.userToken}, provisioning.DecryptOAEP(key), nil), nil
}
