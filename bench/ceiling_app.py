"""The ceiling for the notice page: a minimal Flask view returning the same bytes from memory."""

import os
from pathlib import Path

from flask import Flask, Response

BODY = Path(os.environ["BENCH_PAGE_FILE"]).read_bytes()
app = Flask(__name__)


@app.get("/page")
def page() -> Response:
    return Response(BODY, mimetype="text/html")


@app.get("/healthz")
def healthz() -> str:
    return "ok"
