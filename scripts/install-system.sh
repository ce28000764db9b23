#!/usr/bin/env bash
# Installs what wgpt's tests need from the system on Debian bookworm, as root:
#   - lavapipe (Mesa Vulkan CPU driver) 25.x from bookworm-backports, for Dawn in Node
#   - the Vulkan loader
#   - Debian's chromium (its bundled SwiftShader gives headless WebGPU)
#   - python3-torch (PyTorch CPU), the reference for model parity tests
# The backports entry is made by copying the machine's existing Debian source entry with the suite
# replaced, so no registry host name lives in this repository.
# Usage: scripts/install-system.sh [--check]   (--check: exit 1 if something is missing, install nothing)
set -euo pipefail

missing=()
have_lvp() { ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 && dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null | grep -qE '^(2[4-9]|[3-9][0-9])\.'; }
have_lvp || missing+=(lavapipe)
ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1' || missing+=(libvulkan1)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
python3 -c 'import torch' >/dev/null 2>&1 || /usr/bin/python3 -c 'import torch' >/dev/null 2>&1 || missing+=(python3-torch)

if [ ${#missing[@]} -eq 0 ]; then echo "install-system: all present"; exit 0; fi
if [ "${1:-}" = "--check" ]; then echo "install-system: missing: ${missing[*]}"; exit 1; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "install-system: missing ${missing[*]}; run as root on Debian bookworm: sudo bash scripts/install-system.sh" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
src=/etc/apt/sources.list.d/debian.sources
bp=/etc/apt/sources.list.d/wgpt-backports.sources
if [ ! -f "$bp" ] && ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  if [ -f "$src" ]; then
    # keep only the first stanza (the main archive) and point it at bookworm-backports
    awk 'BEGIN{RS="";ORS="\n\n"} NR==1' "$src" | sed -E 's/^Suites:.*/Suites: bookworm-backports/' > "$bp"
  else
    line=$(grep -hE '^deb .* bookworm main' /etc/apt/sources.list | head -1)
    echo "$line" | sed -E 's/ bookworm / bookworm-backports /' > /etc/apt/sources.list.d/wgpt-backports.list
  fi
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends libvulkan1 chromium python3-torch fonts-dejavu-core >/dev/null
apt-get install -y -qq --no-install-recommends -t bookworm-backports mesa-vulkan-drivers >/dev/null
echo "install-system: installed; mesa-vulkan-drivers $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers)"
