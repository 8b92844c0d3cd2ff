//go:build !xiot_small

package main

// serverCommands are the services that run next to an XMPP server rather
// than on a device, and the registry owners' commands. The ARM release
// (Pi Zero to Pi 3) is built with the xiot_small tag and leaves them out
// to stay within the binary size budget of small boards.
var serverCommands = []command{
	{"concentrator", "bridge MQTT devices to XMPP, one JID each (XEP-0114 component)", runConcentrator},
	{"exigw", "EXI gateway (XEP-0322) in front of a stock XMPP server", runEXIGW},
	{"registry", "thing registry and provisioning server (XEP-0347, XEP-0324 component)", runRegistry},
	{"claim", "claim a thing registered in a registry, by its claim text", runClaim},
	{"things", "list or search the things of a registry", runThings},
	{"rules", "list, allow or deny who may befriend, read and control your things", runRules},
	{"disown", "give up ownership of a thing", runDisown},
	{"token", "obtain a XEP-0324 token for your certificate from the registry", runToken},
}
