#!/bin/sh
# Stops the server `make up` started (by its PID).
set -eu
DATA=${TUG_DATA:-$HOME/.tug}
if [ -f "$DATA/server.pid" ]; then
	pid=$(cat "$DATA/server.pid")
	if kill -0 "$pid" 2>/dev/null; then
		kill "$pid"
		i=0
		while kill -0 "$pid" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
		kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
		echo "tug stopped"
	fi
	rm -f "$DATA/server.pid"
else
	echo "tug is not running"
fi
