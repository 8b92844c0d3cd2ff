#!/usr/bin/env bash
# Install the Debian packages that xiot's integration tests and `make demo`
# need: throwaway Prosody, mosquitto and PostgreSQL servers (started by
# internal/testserver on loopback, never as system services), the mosquitto
# command-line clients, slixmpp as an independent XMPP peer, and the tools
# the Makefile runs.
#
# Idempotent: it only runs apt-get when a package is missing. Needs root
# (or sudo) only in that case. Tested on Debian 12 (bookworm).
set -euo pipefail

PACKAGES=(
	prosody           # XMPP server (0.12 on bookworm)
	mosquitto         # MQTT broker; also provides mosquitto_passwd
	mosquitto-clients # mosquitto_pub / mosquitto_sub
	python3-slixmpp   # independent XMPP peer (use /usr/bin/python3)
	postgresql        # the registry's PostgreSQL store (15 on bookworm), run from /usr/lib/postgresql/*/bin
	openssl
	ca-certificates
	make
	git
	gcc               # cgo, needed by go test -race
	libc6-dev
	qemu-user-static  # runs the ARM release binaries in deploy's test
	systemd           # systemd-analyze verify of the unit file
)

if ! command -v dpkg-query >/dev/null 2>&1; then
	echo "install-deps: dpkg-query not found: this script supports Debian and derivatives only." >&2
	echo "install-deps: install by hand: ${PACKAGES[*]}" >&2
	exit 1
fi

missing=()
for p in "${PACKAGES[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	if [[ "$status" != "install ok installed" ]]; then
		missing+=("$p")
	fi
done

if ((${#missing[@]} == 0)); then
	echo "install-deps: all present: ${PACKAGES[*]}"
else
	echo "install-deps: missing: ${missing[*]}"
	if [[ $(id -u) -ne 0 ]]; then
		echo "install-deps: not root: cannot install. Run as root, or:" >&2
		echo "  sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}" >&2
		exit 1
	fi
	echo "install-deps: apt-get update"
	apt-get update -q
	echo "install-deps: apt-get install ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
	echo "install-deps: installed ${missing[*]}"
fi

# Check that the binaries the harness runs are on PATH (mosquitto lives in
# /usr/sbin, which a non-root PATH may lack).
for b in prosody prosodyctl mosquitto mosquitto_passwd mosquitto_pub mosquitto_sub openssl; do
	if ! command -v "$b" >/dev/null 2>&1; then
		echo "install-deps: $b is installed but not on PATH ($PATH); add /usr/sbin and /usr/bin" >&2
		exit 1
	fi
done
if ! compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; then
	echo "install-deps: postgresql is installed but /usr/lib/postgresql/*/bin/postgres is missing" >&2
	exit 1
fi
if ! /usr/bin/python3 -c 'import slixmpp' 2>/dev/null; then
	echo "install-deps: /usr/bin/python3 cannot import slixmpp" >&2
	exit 1
fi
echo "install-deps: ok ($(dpkg-query -W -f='prosody ${Version}, ' prosody)$(dpkg-query -W -f='mosquitto ${Version}, ' mosquitto)$(dpkg-query -W -f='slixmpp ${Version}, ' python3-slixmpp)$(dpkg-query -W -f='postgresql ${Version}' postgresql))"
