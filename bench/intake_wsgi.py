"""gunicorn entry point for bench/intake_submit.py: the portal, plus a bare ceiling view.

With PORTAL_BENCH_VIEWS=1 two routes are added to this process only (never to the real app):
GET /bench/form hands out a CSRF token like the feedback page, POST /bench/insert checks it
(the global CSRFProtect runs as for every POST) and inserts one row into bench_rows. Their
rate is what Flask + gunicorn + PostgreSQL can do at best with the same client pattern.
"""

from __future__ import annotations

import os

from flask import redirect
from flask_wtf.csrf import generate_csrf
from sqlalchemy import text

from portal import create_app
from portal.extensions import db

app = create_app()

if os.environ.get("PORTAL_BENCH_VIEWS") == "1":

    @app.get("/bench/form")
    def bench_form() -> str:
        return f'<form method="post"><input name="csrf_token" value="{generate_csrf()}"></form>'

    @app.post("/bench/insert")
    def bench_insert() -> object:
        db.session.execute(text("INSERT INTO bench_rows (body) VALUES ('x')"))
        db.session.commit()
        return redirect("/bench/form", code=303)
