#!/usr/bin/env bash
# Deploy smoke check: the shipped nginx site (deploy/nginx/portal.conf, with a throw-away
# self-signed certificate) in front of gunicorn (deploy/gunicorn.conf.py), both on loopback ports.
# Checks a notice page, the micro-cache, a static file and its 304, the HTTP->HTTPS redirect, the
# upload cap, unknown hosts refused and the maintenance page; stops both. Exit status: number of failed checks (0 = ok).
#
# Usage: deploy/check.sh            (SQLite in a temp dir)
#        PORTAL_SQLALCHEMY_DATABASE_URI=postgresql+psycopg://... deploy/check.sh  (an EMPTY db)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
NGINX="${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}"
SEED="${CHECK_NOTICE:-$ROOT/../shared/notices/dongguan-procuratorate-2024-02-02.txt}"
HOST=portal.example.gov.cn
TMP="$(mktemp -d /tmp/portal-deploy-check.XXXXXX)"
chmod 755 "$TMP"
GUNICORN_PID=""
NGINX_STARTED=""

cleanup() {
  if [ -n "$NGINX_STARTED" ]; then
    "$NGINX" -c "$TMP/nginx.conf" -p "$TMP" -s stop 2>/dev/null || true
  fi
  if [ -n "$GUNICORN_PID" ] && kill -0 "$GUNICORN_PID" 2>/dev/null; then
    kill "$GUNICORN_PID" && wait "$GUNICORN_PID" 2>/dev/null || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT

free_port() { "$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
APP_PORT="$(free_port)"; HTTP_PORT="$(free_port)"; TLS_PORT="$(free_port)"

[ -x "$NGINX" ] || { echo "FAIL nginx not installed (make system-deps)"; exit 1; }
[ -f "$SEED" ] || { echo "FAIL seed notice $SEED missing"; exit 1; }

export FLASK_APP=portal
export PORTAL_INSTANCE_PATH="$TMP/instance"
export PORTAL_SQLALCHEMY_DATABASE_URI="${PORTAL_SQLALCHEMY_DATABASE_URI:-sqlite:///$TMP/instance/portal.db}"
export PORTAL_PREFERRED_URL_SCHEME=https
mkdir -p "$PORTAL_INSTANCE_PATH"
cd "$ROOT"

# --- the app ------------------------------------------------------------------------------
if compgen -G "$ROOT/migrations/versions/*_*.py" >/dev/null; then
  "$VENV/bin/flask" db upgrade >"$TMP/setup.log" 2>&1
else  # no migration written yet: create the tables directly
  "$VENV/bin/python" -c 'from portal import create_app; from portal.extensions import db
app = create_app()
with app.app_context(): db.create_all()' >"$TMP/setup.log" 2>&1
fi
SLUG="$("$VENV/bin/flask" notices import "$SEED" --slug deploy-check --publish 2>>"$TMP/setup.log" | tail -n1)"

GUNICORN_BIND="127.0.0.1:$APP_PORT" GUNICORN_WORKERS=2 GUNICORN_ACCESSLOG="$TMP/access-app.log" \
  "$VENV/bin/gunicorn" -c deploy/gunicorn.conf.py wsgi:app >"$TMP/gunicorn.log" 2>&1 &
GUNICORN_PID=$!
for _ in $(seq 1 150); do
  curl -fs "http://127.0.0.1:$APP_PORT/healthz" >/dev/null 2>&1 && break
  kill -0 "$GUNICORN_PID" 2>/dev/null || { echo "FAIL gunicorn exited"; cat "$TMP/gunicorn.log"; exit 1; }
  sleep 0.2
done

# --- nginx: the shipped site file with loopback ports and a throw-away certificate ----------
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=$HOST" \
  -keyout "$TMP/key.pem" -out "$TMP/cert.pem" >/dev/null 2>&1
mkdir -p "$TMP/cache" "$TMP/acme"
sed -e "s#/srv/portal#$ROOT#g" \
    -e "s#127.0.0.1:8000#127.0.0.1:$APP_PORT#" \
    -e "s#/var/cache/nginx/portal#$TMP/cache#" \
    -e "s#/var/www/letsencrypt#$TMP/acme#" \
    -e "s#/var/log/nginx/portal#$TMP/portal#" \
    -e "s#/etc/ssl/portal/fullchain.pem#$TMP/cert.pem#" \
    -e "s#/etc/ssl/portal/privkey.pem#$TMP/key.pem#" \
    -e "s#listen 80;#listen 127.0.0.1:$HTTP_PORT;#" \
    -e "s#listen 80 default_server;#listen 127.0.0.1:$HTTP_PORT default_server;#" \
    -e "s#listen 443 ssl#listen 127.0.0.1:$TLS_PORT ssl#" \
    -e "/listen \[::\]/d" \
    deploy/nginx/portal.conf >"$TMP/portal.conf"
# As root, workers would drop to "nobody", who cannot write the private temp dirs.
USER_LINE=""; [ "$(id -u)" -eq 0 ] && USER_LINE="user root;"
cat >"$TMP/nginx.conf" <<EOF
$USER_LINE
worker_processes 1;
pid $TMP/nginx.pid;
error_log $TMP/error.log warn;
events { worker_connections 256; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log $TMP/access.log;
    client_body_temp_path $TMP/body; proxy_temp_path $TMP/proxy;
    fastcgi_temp_path $TMP/fcgi; uwsgi_temp_path $TMP/uwsgi; scgi_temp_path $TMP/scgi;
    include $TMP/portal.conf;
}
EOF
"$NGINX" -t -q -c "$TMP/nginx.conf" -p "$TMP"
"$NGINX" -c "$TMP/nginx.conf" -p "$TMP"
NGINX_STARTED=1

# --- checks -------------------------------------------------------------------------------
set +e  # every check runs and is counted
FAILED=0; PASSED=0
ok() { PASSED=$((PASSED + 1)); echo "ok   $*"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL $*"; }
BASE="https://$HOST:$TLS_PORT"
CURL=(curl -sk --max-time 20 --resolve "$HOST:$TLS_PORT:127.0.0.1" --resolve "$HOST:$HTTP_PORT:127.0.0.1")
# status code + chosen response headers, lower-cased: "200 x-cache-status: hit"
fetch() { "${CURL[@]}" -o "$TMP/response" -D "$TMP/headers" -w '%{http_code}' "$@"; }
header() { tr -d '\r' <"$TMP/headers" | grep -i "^$1:" | tail -n1 | cut -d' ' -f2- ; }

[ -n "$SLUG" ] && ok "notice imported as $SLUG" || fail "notice import: $(tail -n3 "$TMP/setup.log")"

code="$(fetch "$BASE/notices/$SLUG")"
if [ "$code" = 200 ] && grep -q "整改" "$TMP/response"; then ok "notice page through nginx (TLS): 200"; else fail "notice page: $code"; fi
sleep 0.05
fetch "$BASE/notices/$SLUG" >/dev/null
cache="$(header x-cache-status)"
[ "$cache" = HIT ] && ok "micro-cache: second read is a $cache" || fail "micro-cache: second read was '$cache'"
fetch -H "Cookie: session=abc" "$BASE/notices/$SLUG" >/dev/null
cache="$(header x-cache-status)"
[ "$cache" = BYPASS ] && ok "micro-cache bypassed with a session cookie" || fail "with a session cookie: '$cache'"
code="$(fetch "$BASE/notices/$SLUG/feedback")"
[ "$code" = 200 ] && [ -z "$(header x-cache-status)" ] && ok "feedback form not cached: 200" || fail "feedback form: $code $(header x-cache-status)"

code="$(fetch "$BASE/static/css/portal.css")"
cc="$(header cache-control)"; etag="$(header etag)"
if [ "$code" = 200 ] && [[ "$cc" == *max-age=604800* ]]; then
  ok "static file from nginx: 200, $cc"
else fail "static file: $code cache-control='$cc'"; fi
grep -q "/static/css/portal.css" "$TMP/access-app.log" && fail "static file reached gunicorn" || ok "static file never reached gunicorn"
code="$(fetch -H "If-None-Match: $etag" "$BASE/static/css/portal.css")"
[ "$code" = 304 ] && ok "static revalidation: 304" || fail "static revalidation: $code"
code="$(fetch -H "If-Modified-Since: $(header last-modified)" "$BASE/static/js/intake.js")"
[ "$code" = 200 ] || [ "$code" = 304 ] && ok "static js: $code" || fail "static js: $code"

code="$(fetch "http://$HOST:$HTTP_PORT/notices/$SLUG")"
[ "$code" = 301 ] && [[ "$(header location)" == https://* ]] && ok "http redirects to https" || fail "http: $code"
code="$(fetch "$BASE/healthz")"
[ "$code" = 200 ] && ok "healthz through nginx: 200" || fail "healthz: $code"
# Unknown hosts get nothing: 444 (connection closed) on HTTP, a refused handshake on TLS.
code="$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' -H "Host: evil.example" "http://127.0.0.1:$HTTP_PORT/notices/$SLUG")"
[ "$code" = 000 ] && ok "unknown Host on http: connection closed (444)" || fail "unknown Host on http: $code"
code="$(curl -sk --max-time 5 -o /dev/null -w '%{http_code}' --resolve "evil.example:$TLS_PORT:127.0.0.1" "https://evil.example:$TLS_PORT/notices/$SLUG")"
[ "$code" = 000 ] && ok "unknown Host on https: handshake refused" || fail "unknown Host on https: $code"
[ "$(header strict-transport-security)" != "" ] && ok "HSTS on (PREFERRED_URL_SCHEME=https)" || fail "no HSTS header"

head -c $((27 * 1024 * 1024)) /dev/zero >"$TMP/big"
code="$(fetch -H "Content-Type: application/octet-stream" --data-binary "@$TMP/big" "$BASE/notices/$SLUG/feedback")"
[ "$code" = 413 ] && ok "27 MB upload refused by nginx: 413" || fail "27 MB upload: $code"
rm -f "$TMP/big"

# Access logs keep paths, never query strings (staff searches carry letter text).
fetch "$BASE/notices/$SLUG?q=PLANTEDQUERY17" >/dev/null
fetch "$BASE/staff/queue?q=PLANTEDQUERY17" >/dev/null
sleep 0.2
if grep -q "/notices/$SLUG" "$TMP/portal.access.log" && grep -q "/staff/" "$TMP/access-app.log"; then
  ok "access logs record paths"
else fail "access logs record no paths"; fi
grep -qs PLANTEDQUERY17 "$TMP/portal.access.log" "$TMP/access-app.log" \
  && fail "a query string reached an access log" || ok "access logs hold no query string"

kill "$GUNICORN_PID"; wait "$GUNICORN_PID" 2>/dev/null || true; GUNICORN_PID=""
code="$(fetch "$BASE/healthz")"
[ "$code" = 502 ] && grep -q "服务暂不可用" "$TMP/response" && ok "gunicorn down: 502 with the Chinese page" || fail "gunicorn down: $code"

echo "deploy check: $PASSED passed, $FAILED failed"
exit "$FAILED"
