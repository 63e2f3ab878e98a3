#!/usr/bin/env bash
# Installs the Debian packages the test tiers need when they are missing: Chromium (browser
# tests), Dovecot (IMAP tests), nginx and wrk (deploy check and benchmarks), CJK fonts (screenshots
# and PDFs), Pango (WeasyPrint PDFs).
# With CI=true a package that cannot be installed fails the run.
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
[ -x /usr/sbin/dovecot ] || missing+=(dovecot-imapd)
[ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
[ -d /usr/share/fonts/opentype/noto ] || missing+=(fonts-noto-cjk)
ldconfig -p 2>/dev/null | grep -q libpangoft2-1.0 || missing+=(libpango-1.0-0 libpangoft2-1.0-0)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing Debian packages: ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"; } >&2; then
  echo "could not install: ${missing[*]}" >&2
  [ "${CI:-}" = "true" ] && exit 1
fi
# Debian starts services on install; the tests run their own instances on other ports.
for svc in dovecot nginx; do
  command -v systemctl >/dev/null 2>&1 && $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true
  pkill -x "$svc" >/dev/null 2>&1 || true
done
exit 0
