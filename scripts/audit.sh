#!/usr/bin/env bash
# Security checks: bandit (no high-severity finding, gating) and pip-audit of requirements.lock,
# the exact hashed set a production deployment installs (requirements-dev.lock holds the same
# pins plus the test and lint tools). pip-audit asks PyPI's JSON API, then OSV. Where neither
# answers (this build machine reaches only the package index) it cannot audit anything, and we
# say so loudly rather than print a vacuous "no known vulnerabilities"; where only some packages
# could be checked we name the others. Neither fails the build unless PORTAL_REQUIRE_PIP_AUDIT=1;
# a known vulnerability always does.
set -uo pipefail
BIN=${BIN:-.venv/bin}
LOCK=${PORTAL_AUDIT_LOCK:-requirements.lock}
"$BIN/bandit" -q -r portal -lll || { echo "bandit: high-severity findings" >&2; exit 1; }
echo "bandit: no high-severity finding"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# What requests/pip-audit print when a vulnerability service cannot be reached at all.
unreachable='ConnectionError|Max retries exceeded|NameResolutionError|Failed to resolve|timed out'
unreachable+='|Connection refused|Temporary failure in name resolution'

# One line from pip-audit's JSON report: "<audited> <skipped>", then one line per vulnerable
# package and one per package not audited.
summarise() {
  "$BIN/python" - "$1" <<'EOF'
import json, sys

deps = json.load(open(sys.argv[1]))["dependencies"]
skipped = [d for d in deps if "skip_reason" in d]
vulnerable = [d for d in deps if d.get("vulns")]
print(len(deps) - len(skipped), len(skipped))
for d in vulnerable:
    ids = ", ".join(v["id"] for v in d["vulns"])
    print(f"VULNERABLE {d['name']} {d['version']}: {ids}")
for d in skipped:
    print(f"NOT AUDITED {d['name']} {d.get('version', '')}: {d['skip_reason']}")
EOF
}

# OSV is either reachable or not at all: a quick request tells, so that where it is not (as on this
# build machine) the audit does not spend minutes resolving the lock only to fail to connect.
osv_reachable() {
  "$BIN/python" - "${PORTAL_OSV_URL:-https://api.osv.dev/v1/query}" <<'EOF'
import sys

import requests

query = {"package": {"name": "pip", "ecosystem": "PyPI"}, "version": "26.3"}
try:
    requests.post(sys.argv[1], json=query, timeout=15)
except requests.RequestException:
    sys.exit(1)
EOF
}

for service in pypi osv; do
  if [ "$service" = osv ] && ! osv_reachable; then
    echo "pip-audit (osv): service unreachable" >&2
    continue
  fi
  report="$work/$service.json"
  "$BIN/pip-audit" -r "$LOCK" --require-hashes --vulnerability-service "$service" \
    --format json --output "$report" --progress-spinner off --timeout 30 >"$work/log" 2>&1
  status=$?
  if [ ! -s "$report" ]; then
    if grep -qE "$unreachable" "$work/log"; then
      echo "pip-audit ($service): service unreachable" >&2
      continue
    fi
    cat "$work/log" >&2
    echo "pip-audit ($service) failed (exit $status) without a report" >&2
    exit 1
  fi
  summary=$(summarise "$report") || { cat "$work/log" >&2; exit 1; }
  read -r audited skipped <<<"$(head -n1 <<<"$summary")"
  if grep -q '^VULNERABLE ' <<<"$summary"; then
    grep '^VULNERABLE ' <<<"$summary" >&2
    echo "pip-audit ($service): known vulnerabilities in $LOCK" >&2
    exit 1
  fi
  if [ "$status" -ne 0 ]; then
    cat "$work/log" >&2
    echo "pip-audit ($service) failed (exit $status)" >&2
    exit 1
  fi
  if [ "$audited" -eq 0 ]; then
    echo "pip-audit ($service): no advisory database answered for any of $skipped packages" >&2
    continue
  fi
  if [ "$skipped" -eq 0 ]; then
    echo "pip-audit ($service): no known vulnerability in the $audited packages of $LOCK"
    exit 0
  fi
  echo "pip-audit ($service): no known vulnerability in $audited packages of $LOCK;" \
    "DEPENDENCY AUDIT INCOMPLETE, $skipped not audited:" >&2
  grep '^NOT AUDITED ' <<<"$summary" | sed 's/^/  /' >&2
  [ "${PORTAL_REQUIRE_PIP_AUDIT:-0}" = "1" ] && exit 1
  exit 0
done
echo "pip-audit: DEPENDENCY AUDIT NOT PERFORMED: no advisory database reachable from here" \
  "(tried PyPI and OSV for $LOCK)" >&2
[ "${PORTAL_REQUIRE_PIP_AUDIT:-0}" = "1" ] && exit 1
exit 0
