"""HTTP plumbing shared by st2api, st2auth and st2stream: StackStorm's URL forms, CORS, authentication,
JSON bodies and errors rendered once as `{"faultstring": ...}`."""

from __future__ import annotations

import logging
from typing import Any, Optional

import falcon

from appliance import codec
from appliance.auth import AuthError, Credentials
from appliance.config import Config
from appliance.models import ValidationError
from appliance.store import Conflict, StoreError

LOG = logging.getLogger(__name__)


class ApiError(Exception):
    """An error with an HTTP status and StackStorm's faultstring."""

    def __init__(self, status: int, faultstring: str, **extra: Any):
        super().__init__(faultstring)
        self.status = status
        self.faultstring = faultstring
        self.extra = extra


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def not_found(message: str) -> ApiError:
    return ApiError(404, message)


def _render(resp: falcon.Response, status: int, body: dict) -> None:
    resp.status = falcon.code_to_http_status(status)
    resp.content_type = falcon.MEDIA_JSON
    resp.text = codec.dumps(body)


def install_error_handlers(app: falcon.App) -> None:
    def api_error(req, resp, exc: ApiError, params):
        _render(resp, exc.status, {"faultstring": exc.faultstring, **exc.extra})

    def conflict(req, resp, exc: Conflict, params):
        _render(resp, 409, {"faultstring": f"Tried to save duplicate unique keys ({exc.field}: {exc.value})",
                            "conflict-id": exc.existing_id})

    def invalid(req, resp, exc: ValidationError, params):
        _render(resp, 400, {"faultstring": str(exc)})

    def store_error(req, resp, exc: StoreError, params):
        # The engine's text may name hosts, files or credentials: the log keeps it, the client does not.
        LOG.error("database error on %s %s: %s", req.method, req.path, exc)
        _render(resp, 503, {"faultstring": "Database unavailable, try again later."})

    def http_error(req, resp, exc: falcon.HTTPError, params):
        message = exc.description or exc.title or "Error"
        _render(resp, exc.status_code, {"faultstring": message})

    def unexpected(req, resp, exc: Exception, params):
        LOG.exception("internal error on %s %s", req.method, req.path)
        _render(resp, 500, {"faultstring": "Internal Server Error"})

    app.add_error_handler(Exception, unexpected)
    app.add_error_handler(falcon.HTTPError, http_error)
    app.add_error_handler(StoreError, store_error)
    app.add_error_handler(Conflict, conflict)
    app.add_error_handler(ApiError, api_error)
    app.add_error_handler(ValidationError, invalid)


class StripPrefix:
    """Serve `/v1/x`, `/x`, `/x/` alike, as StackStorm's router does (the CLI uses every form)."""

    def __init__(self, prefixes: tuple[str, ...] = ("/v1",)):
        self.prefixes = prefixes

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        path = req.path
        for prefix in self.prefixes:
            if path == prefix or path.startswith(prefix + "/"):
                path = path[len(prefix):] or "/"
                break
        if len(path) > 1 and path.endswith("/"):
            path = path[:-1]
        req.path = path


class Cors:
    """StackStorm's CORS rule (st2common middleware/cors.py), for browsers such as the web UI.

    Every response carries the headers; an Origin that is not allowed gets the first allowed origin
    back (so the browser refuses it), and preflight OPTIONS requests are answered here, unauthenticated.
    """

    METHODS = "GET,POST,PUT,DELETE,OPTIONS"
    REQUEST_HEADERS = "Content-Type,Authorization,X-Auth-Token,St2-Api-Key,X-Request-ID"
    EXPOSED_HEADERS = "Content-Type,X-Limit,X-Total-Count,X-Request-ID"
    # StackStorm always adds the web UI's development servers.
    DEFAULT_ORIGINS = ("http://127.0.0.1:3000", "http://localhost:8080", "http://127.0.0.1:8080")

    def __init__(self, allow_origin: list[str], api_url: str):
        origins = [*allow_origin, *self.DEFAULT_ORIGINS, *([api_url] if api_url else [])]
        self.origins = list(dict.fromkeys(origins))  # ordered, without repeats

    def allowed(self, origin: Optional[str]) -> str:
        """The Access-Control-Allow-Origin answer to `origin` (StackStorm: the first origin when not allowed)."""
        if origin and ("*" in self.origins or origin in self.origins):
            return origin
        return self.origins[0]

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        if req.method == "OPTIONS":
            resp.status = falcon.HTTP_200
            resp.complete = True

    def process_response(self, req: falcon.Request, resp: falcon.Response, resource: Any,
                         req_succeeded: bool) -> None:
        resp.set_headers({
            "Access-Control-Allow-Origin": self.allowed(req.get_header("Origin")),
            "Access-Control-Allow-Methods": self.METHODS,
            "Access-Control-Allow-Headers": self.REQUEST_HEADERS,
            "Access-Control-Allow-Credentials": "true",
            "Access-Control-Expose-Headers": self.EXPOSED_HEADERS,
        })


class Authenticate:
    """Resolve the caller from a token or API key in any of StackStorm's carriers."""

    def __init__(self, credentials: Credentials, config: Config):
        self.credentials = credentials
        self.enabled = config.get("auth", "enable")
        # With [auth] enable = false, StackStorm acts as its system user.
        self.anonymous = config.get("system_user", "user")

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        req.context.user = None
        req.context.auth = {}
        if not self.enabled:  # (preflight OPTIONS requests never get here: Cors answers them)
            req.context.user = self.anonymous
            return
        token, location = _carrier(req, "X-Auth-Token", "x-auth-token", "auth-token")
        key, key_location = _carrier(req, "St2-Api-Key", "st2-api-key", None)
        try:
            if token:
                doc = self.credentials.check_token(token)
                req.context.user = doc["user"]
                req.context.auth = {"method": "authentication token", "location": location,
                                    "token_expire": doc["expiry"], "token": token}
            elif key:
                doc = self.credentials.check_api_key(key)
                req.context.user = doc["user"]
                req.context.auth = {"method": "API key", "location": key_location}
            else:
                raise AuthError("Unauthorized - One of Token or API key required.")
        except AuthError as exc:
            raise ApiError(401, str(exc)) from None


def _carrier(req: falcon.Request, header: str, query: str, cookie: Optional[str]) -> tuple[str, str]:
    value = req.get_header(header)
    if value:
        return value, "header"
    value = req.get_param(query)
    if value:
        return value, "query"
    if cookie:
        values = req.get_cookie_values(cookie)
        if values:
            return values[0], "cookie"
    return "", ""


def json_body(req: falcon.Request, default: Any = None) -> Any:
    """The request's JSON body; malformed JSON is a 400 that says where it broke."""
    raw = req.bounded_stream.read()
    if not raw or not raw.strip():
        return default
    try:
        return codec.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:  # orjson.JSONDecodeError is a ValueError
        raise bad_request(f"Failed to parse request body: {exc}") from None


def json_object(req: falcon.Request) -> dict:
    body = json_body(req, {})
    if not isinstance(body, dict):
        raise bad_request("Request body must be a JSON object")
    return body


def respond(resp: falcon.Response, body: Any, status: int = 200) -> None:
    resp.status = falcon.code_to_http_status(status)
    resp.content_type = falcon.MEDIA_JSON
    resp.text = codec.dumps(body)


def make_app(config: Config, middleware: list) -> falcon.App:
    """A falcon app with StackStorm's URL forms, CORS from [api] allow_origin, and the error handlers."""
    cors = Cors(config.get("api", "allow_origin"), config.get("auth", "api_url"))
    app = falcon.App(middleware=[StripPrefix(), cors, *middleware], cors_enable=False)
    app.req_options.auto_parse_form_urlencoded = False
    app.req_options.keep_blank_qs_values = True
    install_error_handlers(app)
    return app
