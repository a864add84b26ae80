"""The yardstick for bench/load.py: a bare Flask app whose one page reads one row.

    BARE_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/db \\
        .venv/bin/gunicorn --chdir bench -w 5 bare:app

The same stack as the portal's pages without the portal: Flask, a SQLAlchemy engine with
the portal's engine options, psycopg 3, PostgreSQL. No session, login, CSRF, templates or
translations. `GET /row/<id>` answers one row of `service` (the portal's own table, in the
bench's database) as JSON, 404 when there is none.
"""

from __future__ import annotations

import os

import sqlalchemy as sa
from flask import Flask, abort, jsonify

app = Flask(__name__)
# As portal/config.py sets them: a pre-ping per checkout is part of every portal request too.
engine = sa.create_engine(os.environ["BARE_DATABASE_URL"], pool_pre_ping=True)
ONE_ROW = sa.text("SELECT id, code, target_days FROM service WHERE id = :id")


@app.get("/row/<int:row_id>")
def row(row_id: int):
    with engine.connect() as connection:
        found = connection.execute(ONE_ROW, {"id": row_id}).mappings().first()
    if found is None:
        abort(404)
    return jsonify(dict(found))
