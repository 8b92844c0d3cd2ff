package version

// The tables below mirror the driver imports of periph.io/x/host/v3 v3.8.5
// (host_linux.go, host_arm.go, host_arm64.go): they say which board
// families the host drivers are compiled in for on a platform, not which
// board is present. Board detection happens at run time in package boards.
// Update them together with the periph.io/x/host/v3 version in go.mod.

// linuxGeneric is what periph offers on any Linux machine.
const linuxGeneric = "generic Linux: GPIO character device (gpio-cdev ioctl), sysfs GPIO/I²C/SPI/LED/thermal, 1-Wire over netlink"

const (
	// Raspberry Pi 5 (RP1 I/O chip) has no memory-mapped driver in periph;
	// it works through the generic gpio-cdev driver.
	raspberryPi = "Raspberry Pi 1 to 4, Zero, Compute Modules (BCM283x/BCM2711 memory-mapped GPIO)"
	allwinnerV7 = "Allwinner A20, A64, H3, H5, R8 (Pine64, NextThing CHIP; memory-mapped GPIO)"
	allwinnerV8 = "Allwinner A64, H3, H5 (Pine64; memory-mapped GPIO)"
	beagleBone  = "BeagleBone Black and Green (TI AM335x)"
	odroidC1    = "ODROID-C1 (Amlogic S805)"
)

// BoardSupport lists the board families whose periph host drivers are
// built into xiot for goos/goarch, most specific first. The result is nil
// for platforms without any periph host driver (everything but Linux).
func BoardSupport(goos, goarch string) []string {
	if goos != "linux" {
		return nil
	}
	switch goarch {
	case "arm":
		return []string{raspberryPi, allwinnerV7, beagleBone, odroidC1, linuxGeneric}
	case "arm64":
		return []string{raspberryPi, allwinnerV8, linuxGeneric}
	default:
		return []string{linuxGeneric}
	}
}
