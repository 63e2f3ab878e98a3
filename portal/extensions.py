"""Extensions are created unbound here and bound to the app in create_app()."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_mail import Mail
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Stable constraint names so Alembic migrations work the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# hide_parameters: a database error's message (logged, and shown in tracebacks) names the SQL
# but never its parameters, which are citizens' text and contacts. Here as well as in the
# config defaults, so an instance config that replaces SQLALCHEMY_ENGINE_OPTIONS keeps it.
db = SQLAlchemy(model_class=Base, engine_options={"hide_parameters": True})
if TYPE_CHECKING:
    Model = Base  # what the type checker sees: plain typed declarative models
else:
    Model = db.Model  # what runs: Flask-SQLAlchemy's model class built on Base
migrate = Migrate()
csrf = CSRFProtect()
mail = Mail()
babel = Babel()
login_manager = LoginManager()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
