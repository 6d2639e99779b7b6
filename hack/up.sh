#!/bin/sh
# Starts `tug up` (the control plane and one node, the node in its own network
# namespace) in the background with its data in $TUG_DATA, waits until the node runs
# pods, and says how to use it. `make down` stops it.
set -eu
BIN=${BIN:-bin/tug}
DATA=${TUG_DATA:-$HOME/.tug}
LISTEN=${TUG_LISTEN:-127.0.0.1:6443}
mkdir -p "$DATA"
if [ -f "$DATA/server.pid" ] && kill -0 "$(cat "$DATA/server.pid")" 2>/dev/null; then
	echo "tug is already running (pid $(cat "$DATA/server.pid")); export KUBECONFIG=$DATA/admin.kubeconfig"
	exit 0
fi
nohup "$BIN" up --data-dir "$DATA" --listen "$LISTEN" >"$DATA/server.log" 2>&1 &
echo $! >"$DATA/server.pid"
i=0
while :; do
	if grep -q "tug is up" "$DATA/server.log" 2>/dev/null; then
		break
	fi
	if ! kill -0 "$(cat "$DATA/server.pid")" 2>/dev/null; then
		echo "tug up exited; its log:" >&2
		cat "$DATA/server.log" >&2
		exit 1
	fi
	i=$((i + 1))
	if [ $i -gt 600 ]; then
		echo "tug did not become ready in 60s; log in $DATA/server.log" >&2
		exit 1
	fi
	sleep 0.1
done
echo "tug is up (pid $(cat "$DATA/server.pid"), log $DATA/server.log)"
echo "  export KUBECONFIG=$DATA/admin.kubeconfig"
echo "  kubectl get nodes"
