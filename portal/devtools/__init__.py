"""Development tools (`flask dev seed`): registered only when the app runs in debug mode or
tests, never in a production deployment."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from portal.devtools.cli import dev_cli

    app.cli.add_command(dev_cli)
