// Package concentrator implements XEP-0326 (Internet of Things - Concentrators)
// and the MQTT bridge that gives every MQTT device its own JID.
//
// The MQTT side lives in two subpackages:
//
//   - concentrator/payload decodes MQTT payloads (plain values, JSON with a
//     path, SenML in JSON and CBOR, Homie v4 datatypes) into sensors.Field
//     values with units, decimals and timestamps.
//   - concentrator/mqttbridge connects to the broker (config.MQTT), maps
//     topics to devices and fields, discovers Homie devices, keeps each
//     device's last values and availability, notifies changes, and sets
//     writable fields with Publish, which succeeds only on the device's
//     state echo.
//
// The XMPP side is concentrator/component: a XEP-0114 component that
// gives each bridged device a JID (<device>@<component domain>, the id
// escaped per XEP-0106) with its own presence, XEP-0030 disco, XEP-0323
// readouts and XEP-0325 control, built on mqttbridge.Bridge: Devices and
// Device for readouts, Subscribe for presence, Publish for control.
// "xiot concentrator --config FILE" runs both.
package concentrator
