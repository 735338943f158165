#!/usr/bin/env bash
# Install the system packages rosterlab's tests drive for real, only when they are missing.
set -euo pipefail
need=()
# Always: OpenSSH's sshd (the SFTP tests run a real server). ROSTERLAB_SYSDEPS adds more
# "binary:package" pairs (space separated), e.g. chromium for the JupyterLab browser test.
for spec in /usr/sbin/sshd:openssh-server ${ROSTERLAB_SYSDEPS:-}; do
  bin=${spec%%:*}; pkg=${spec##*:}
  command -v "$bin" >/dev/null 2>&1 || [ -x "$bin" ] || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing system packages: ${need[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
