#!/usr/bin/env bash
# Installs the Debian packages the test tiers need when they are missing: Chromium (browser
# tests), Dovecot (IMAP tests), nginx and wrk (deploy check and benchmarks), CJK fonts (screenshots
# and PDFs), Pango (WeasyPrint PDFs).
# With CI=true a package that cannot be installed fails the run.
#
# Debian's maintainer scripts start a package's daemon on install (dovecot, nginx). The tests run
# their own instances on other ports and need none of those, so the install runs under a
# temporary /usr/sbin/policy-rc.d that answers 101 ("action forbidden") to invoke-rc.d and
# deb-systemd-invoke: no daemon is started, and nothing has to be stopped afterwards. This script
# never stops or kills a process: a developer's own nginx or dovecot is left alone. A
# policy-rc.d that already exists belongs to the administrator and is neither replaced nor
# removed.
#
# SYSTEM_DEPS_ROOT (tests only, tests/test_build.py) stands for / in the file checks and the
# policy-rc.d path, so that the script can run against fake tools in a scratch directory.
set -euo pipefail
root=${SYSTEM_DEPS_ROOT:-}
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
[ -x "$root/usr/sbin/dovecot" ] || missing+=(dovecot-imapd)
[ -x "$root/usr/sbin/nginx" ] || missing+=(nginx-light)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
[ -d "$root/usr/share/fonts/opentype/noto" ] || missing+=(fonts-noto-cjk)
# grep reads all of ldconfig's output (no -q): an early exit would make ldconfig die of SIGPIPE
# and, under pipefail, report Pango missing when it is there.
ldconfig -p 2>/dev/null | grep libpangoft2-1.0 >/dev/null || missing+=(libpango-1.0-0 libpangoft2-1.0-0)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing Debian packages: ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

policy="$root/usr/sbin/policy-rc.d"
marker="# temporary, from the portal's scripts/system-deps.sh: no daemon starts during its install"
made_policy=""
remove_policy() {
  # Only the file this run wrote, and only while it still is that file.
  if [ -n "$made_policy" ] && grep -qxF "$marker" "$policy" 2>/dev/null; then
    $SUDO rm -f "$policy"
  fi
}
if [ ! -e "$policy" ] && [ ! -L "$policy" ]; then
  made_policy=1
  trap remove_policy EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM HUP
  if ! { printf '#!/bin/sh\n%s\nexit 101\n' "$marker" | $SUDO tee "$policy" >/dev/null \
    && $SUDO chmod 755 "$policy"; }; then
    echo "could not write $policy, so not installing (the packages would start daemons):" \
      "${missing[*]}" >&2
    [ "${CI:-}" = "true" ] && exit 1
    exit 0
  fi
else
  echo "keeping the existing $policy (daemons start or not as it says)" >&2
fi

if ! { $SUDO apt-get update -qq \
  && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } >&2; then
  echo "could not install: ${missing[*]}" >&2
  [ "${CI:-}" = "true" ] && exit 1
fi
exit 0
