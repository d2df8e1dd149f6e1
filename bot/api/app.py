"""Sanic app factory for the ops server."""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from sanic import Request, Sanic
from sanic.response import HTTPResponse, json

from bot.config import Settings
from bot.redis_client import create_redis
from bot.wiring import Services, build_services

logger = logging.getLogger(__name__)


async def health(request: Request) -> HTTPResponse:
    """Liveness and dependencies: 200 when the database and Redis answer, 503 otherwise."""
    checks: dict[str, str] = {}
    try:
        async with request.app.ctx.services.engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # reported, not raised: this endpoint exists to say what is wrong
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        await request.app.ctx.redis.ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"error: {type(exc).__name__}"
    healthy = all(v == "ok" for v in checks.values())
    return json({"status": "ok" if healthy else "degraded", **checks}, status=200 if healthy else 503)


def create_app(
    settings: Settings | None = None, services: Services | None = None, name: str = "careloop_ops"
) -> Sanic:
    settings = settings or (services.settings if services else Settings.from_env())
    app = Sanic(name)
    app.config.FALLBACK_ERROR_FORMAT = "json"
    app.config.REQUEST_MAX_SIZE = 1_000_000

    @app.before_server_start
    async def _setup(app: Sanic, _loop: Any) -> None:
        app.ctx.services = services or build_services(settings)
        app.ctx.redis = create_redis(settings.redis_url)

    @app.after_server_stop
    async def _teardown(app: Sanic, _loop: Any) -> None:
        await app.ctx.redis.close()
        if services is None:
            await app.ctx.services.close()

    from bot.api.console import blueprint as console_blueprint
    from bot.api.routes_cases import bp as cases_bp
    from bot.api.routes_outbox import bp as outbox_bp
    from bot.api.routes_surveys import events_bp, surveys_bp

    app.add_route(health, "/health", methods=["GET"])
    app.blueprint(cases_bp)
    app.blueprint(outbox_bp)
    app.blueprint(events_bp)
    app.blueprint(surveys_bp)
    app.blueprint(console_blueprint())
    if settings.wechat_standin:
        from bot.wechat.standin import install_standin

        install_standin(app, settings)
    return app
