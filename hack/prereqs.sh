#!/bin/sh
# Installs what tug needs on a Debian machine, if missing: the container runtime
# (containerd, runc), the CNI plugins, iptables, busybox-static (for the local demo
# images). Run as root. Idempotent and quiet when everything is present.
set -eu

need=""
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for p in containerd runc containernetworking-plugins iptables busybox-static iproute2 ca-certificates; do
	have_pkg "$p" || need="$need $p"
done
if [ -n "$need" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "tug needs these packages:$need — run as root (or: sudo apt-get install$need)" >&2
		exit 1
	fi
	echo "installing:$need"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null
	apt-get install -y -qq --no-install-recommends $need >/dev/null
fi
if ! command -v go >/dev/null 2>&1 && [ ! -x /usr/local/go/bin/go ]; then
	echo "tug is built with Go (1.23 or newer); install it from https://go.dev/dl/ (or apt-get install golang-go)" >&2
	exit 1
fi
if ! command -v kubectl >/dev/null 2>&1; then
	echo "note: kubectl is not installed; tug works with any kubectl 1.32 (the tests need /usr/bin/kubectl)" >&2
fi
