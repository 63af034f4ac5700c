#!/bin/sh
# certvault agent installer for Linux (systemd): a virtualenv with the agent wheel, enrolment, the service.
#   sudo sh certvault-agent/install.sh --server https://certvault.example:8443 --token cvat_... --ca-file certvault-ca.pem
# CERTVAULT_AGENT_PREFIX (default /opt/certvault-agent) and CERTVAULT_AGENT_DIR (default /var/lib/certvault-agent)
# choose where it goes; CERTVAULT_AGENT_NO_SERVICE=1 stops after enrolment (containers, tests).
set -eu
SERVER="" TOKEN="" CA_FILE=""
while [ $# -gt 0 ]; do
  case "$1" in
    --server) SERVER=$2; shift 2 ;;
    --token) TOKEN=$2; shift 2 ;;
    --ca-file) CA_FILE=$2; shift 2 ;;
    *) echo "install.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
if [ -z "$SERVER" ] || [ -z "$TOKEN" ] || [ -z "$CA_FILE" ]; then
  echo "usage: install.sh --server URL --token TOKEN --ca-file ROOT.pem" >&2
  exit 2
fi
HERE=$(cd "$(dirname "$0")" && pwd)
PREFIX=${CERTVAULT_AGENT_PREFIX:-/opt/certvault-agent}
STATE=${CERTVAULT_AGENT_DIR:-/var/lib/certvault-agent}
PYTHON=${PYTHON:-python3}
"$PYTHON" -m venv "$PREFIX"
"$PREFIX/bin/pip" install --quiet ${CERTVAULT_AGENT_PIP_OPTIONS:-} "$HERE"/certvault_agent-*.whl
umask 077
mkdir -p "$STATE"
"$PREFIX/bin/certvault-agent" enroll --server "$SERVER" --token "$TOKEN" --ca-file "$CA_FILE" --dir "$STATE"
if [ "${CERTVAULT_AGENT_NO_SERVICE:-}" = "1" ]; then
  echo "enrolled; start it with: $PREFIX/bin/certvault-agent run --dir $STATE"
  exit 0
fi
"$PREFIX/bin/certvault-agent" install-service --dir "$STATE"
systemctl daemon-reload
systemctl enable --now certvault-agent
echo "certvault-agent is running: $PREFIX/bin/certvault-agent status --dir $STATE"
