"""What every HTTP service does around its resources: StackStorm's CORS headers, and database errors
answered without the engine's text."""

from __future__ import annotations

import logging
import sqlite3

import falcon
from falcon import testing

from appliance.api.app import api_app, auth_app
from appliance.api.stream import Broadcaster, stream_app

CORS_FIXED = {
    "access-control-allow-methods": "GET,POST,PUT,DELETE,OPTIONS",
    "access-control-allow-headers": "Content-Type,Authorization,X-Auth-Token,St2-Api-Key,X-Request-ID",
    "access-control-allow-credentials": "true",
    "access-control-expose-headers": "Content-Type,X-Limit,X-Total-Count,X-Request-ID",
}


def _allowed(app: falcon.App, origin: str = "", path: str = "/v1/actions") -> str:
    headers = {"Origin": origin} if origin else {}
    return testing.TestClient(app).simulate_get(path, headers=headers).headers["access-control-allow-origin"]


def test_preflight_is_answered_on_every_service_without_credentials(make_ctx):
    ctx = make_ctx("[api]\nallow_origin = https://ui.example\n")
    for app, path in ((api_app(ctx), "/v1/executions"), (auth_app(ctx), "/tokens"),
                      (stream_app(ctx, Broadcaster()), "/v1/stream")):
        result = testing.TestClient(app).simulate_options(path, headers={
            "Origin": "https://ui.example", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "X-Auth-Token"})
        assert result.status_code == 200 and result.text == "", path
        assert result.headers["access-control-allow-origin"] == "https://ui.example"
        assert {name: result.headers[name] for name in CORS_FIXED} == CORS_FIXED


def test_every_answer_carries_cors_headers_even_an_error(make_ctx):
    result = testing.TestClient(api_app(make_ctx())).simulate_get("/v1/actions")
    assert result.status_code == 401  # no token
    assert {name: result.headers[name] for name in CORS_FIXED} == CORS_FIXED


def test_origin_not_allowed_gets_the_first_allowed_origin(make_ctx):
    app = api_app(make_ctx("[api]\nallow_origin = https://ui.example, https://ops.example\n"))
    assert _allowed(app, "https://ops.example") == "https://ops.example"
    assert _allowed(app, "https://evil.example") == "https://ui.example"
    assert _allowed(app) == "https://ui.example"
    assert _allowed(app, "http://localhost:8080") == "http://localhost:8080"  # StackStorm's web UI defaults


def test_default_origins_and_the_public_api_url(make_ctx):
    app = api_app(make_ctx("[auth]\napi_url = https://st2.example\n"))
    assert _allowed(app, "https://evil.example") == "http://127.0.0.1:3000"
    for origin in ("http://127.0.0.1:3000", "http://localhost:8080", "http://127.0.0.1:8080", "https://st2.example"):
        assert _allowed(app, origin) == origin


def test_star_allows_any_origin(make_ctx):
    app = auth_app(make_ctx("[api]\nallow_origin = *\n"))
    assert _allowed(app, "https://anywhere.example", "/tokens") == "https://anywhere.example"


def test_database_error_text_stays_in_the_log(make_ctx, caplog):
    ctx = make_ctx("[auth]\nenable = false\n")
    client = testing.TestClient(api_app(ctx))
    assert client.simulate_get("/v1/actions").status_code == 200
    with sqlite3.connect(ctx.store.path) as db:  # the engine now fails with its own message
        db.execute("DROP TABLE actions")
    with caplog.at_level(logging.ERROR):
        result = client.simulate_get("/v1/actions")
    assert result.status_code == 503
    assert result.json == {"faultstring": "Database unavailable, try again later."}
    assert "no such table: actions" in caplog.text and ctx.store.path in caplog.text
