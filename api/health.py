"""GET /healthz: JSON health of the spine, HTTP 503 when a dependency is down."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, jsonify


def health_blueprint(check: Callable[[], tuple[bool, dict[str, Any]]]) -> Blueprint:
    bp = Blueprint("health", __name__)

    @bp.get("/healthz")
    def healthz():  # type: ignore[no-untyped-def]
        ok, body = check()
        resp = jsonify(body)
        resp.status_code = 200 if ok else 503
        resp.headers["Cache-Control"] = "no-store"
        return resp

    return bp
