// Package provisioning implements XEP-0324 (Internet of Things - Provisioning)
// and XEP-0347 (Internet of Things - Discovery): the device side and the thing
// registry service.
package provisioning
