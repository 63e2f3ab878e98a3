"""gunicorn settings for the portal; every value can be overridden with GUNICORN_* env vars.

Run: gunicorn -c deploy/gunicorn.conf.py wsgi:app (systemd: deploy/systemd/portal-web.service).
Sync workers are right here: nginx buffers request bodies (slow uploads never hold a worker) and
every request is short. X-Forwarded-For / -Proto are believed only when the peer is one of
FORWARDED_ALLOW_IPS (default: loopback, i.e. nginx on the same host).
"""

from __future__ import annotations

import ipaddress
import multiprocessing
import os
from collections.abc import Callable, Iterable
from typing import Any

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:" + os.environ.get("PORT", "8000"))
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "sync")
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
# Recycle workers now and then so a slow leak never becomes an outage.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "5000"))
max_requests_jitter = 500
# Heartbeat files in RAM: a worker blocked on a slow disk (NFS uploads) is not killed by mistake.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108
limit_request_line = 8190
limit_request_fields = 100
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-")
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
# Client address in the access log is the one nginx saw. Method and path only (%(U)s), never
# the query string or the referer: staff searches would put letter text in the log.
access_log_format = '%({x-forwarded-for}i)s %(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)ss'
proc_name = "portal"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")


def _networks(spec: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(part.strip()) for part in spec.split(",") if part.strip()]


def trust_proxy(app: Callable[..., Any], trusted: Iterable[str] | str) -> Callable[..., Any]:
    """Wrap a WSGI app: take the client address and scheme from nginx's headers, but only when
    the request comes from a trusted proxy address. Anyone else's X-Forwarded-For is ignored,
    so a client cannot pick its own rate-limit bucket or audit IP."""
    from werkzeug.middleware.proxy_fix import ProxyFix

    networks = _networks(trusted if isinstance(trusted, str) else ",".join(trusted))
    behind_proxy = ProxyFix(app, x_for=1, x_proto=1)

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        try:
            peer = ipaddress.ip_address(environ.get("REMOTE_ADDR", ""))
        except ValueError:  # a unix socket peer has no address: nginx on this host
            return behind_proxy(environ, start_response)
        if any(peer in network for network in networks):
            return behind_proxy(environ, start_response)
        for header in ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO"):
            environ.pop(header, None)
        return app(environ, start_response)

    return wsgi


def post_worker_init(worker: Any) -> None:
    # The first worker says it once: only gunicorn knows how many workers share the limits.
    if worker.age == 1 and hasattr(worker.wsgi, "config"):
        from portal.site import warn_if_limits_per_worker

        warn_if_limits_per_worker(worker.wsgi, worker.cfg.workers)
    # Here rather than in wsgi.py: whether a proxy is trusted is a deployment decision.
    worker.wsgi = trust_proxy(worker.wsgi, forwarded_allow_ips)
    # A sync worker heartbeats only between requests: a long streamed download (the ledger of
    # a large office) tells the arbiter it is alive, chunk by chunk, instead of being killed.
    from portal.progress import set_keepalive

    if callable(getattr(worker, "notify", None)):
        set_keepalive(worker.notify)
