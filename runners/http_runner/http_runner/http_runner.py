"""http-request: one HTTP request with requests; 200-206 succeed, anything else fails.

The request runs in a helper thread so that a cancel request is honoured at once; the `timeout`
action parameter (core.http, default 60 s) bounds the connection and each read, as in StackStorm.
"""

from __future__ import annotations

import ast
import json
import threading
from typing import Any, Optional
from urllib.parse import urlparse

import requests

from appliance.runners import RunContext, Runner, RunResult

SUCCESS_CODES = range(200, 207)
DEFAULT_TIMEOUT = 60.0
USER_AGENT = "st2/v3.9.0"
JSON_TYPE = "application/json"


def _string_list(description: str) -> dict:
    return {"description": description, "required": False, "type": "array", "items": {"type": "string"}}


class HttpRunner(Runner):
    RUNS_USER_CODE = False
    RUNNER_TYPE = {
        "name": "http-request",
        "description": "Sends an HTTP request and reports the response.",
        "enabled": True,
        "runner_package": "http_runner",
        "runner_module": "http_runner",
        "runner_parameters": {
            "allow_redirects": {"default": False, "type": "boolean",
                                "description": "Follow redirects (also for POST, PUT and DELETE)."},
            "cookies": {"description": "Cookies to send.", "type": "object"},
            "headers": {"description": "Request headers.", "type": "object"},
            "http_proxy": {"description": "Proxy for http:// URLs (e.g. http://10.10.1.10:3128).", "type": "string"},
            "https_proxy": {"description": "Proxy for https:// URLs (e.g. http://10.10.1.10:3128).",
                            "type": "string"},
            "password": {"description": "Password for HTTP basic authentication.", "type": "string", "secret": True},
            "url": {"description": "URL to request.", "required": True, "type": "string"},
            "username": {"description": "User name for HTTP basic authentication.", "type": "string"},
            "verify_ssl_cert": {"default": True, "type": "boolean",
                                "description": "Check the server's certificate against the CA bundle of "
                                               "requests; false skips the check."},
            "url_hosts_blacklist": _string_list("Hosts (network locations) the action may not reach, e.g. "
                                                "example.com, 127.0.0.1, ::1. Exclusive with the whitelist."),
            "url_hosts_whitelist": _string_list("When given, the only hosts (network locations) the action "
                                                "may reach. Exclusive with the blacklist."),
        },
        "output_key": "body",
        "output_schema": {
            "type": "object",
            "properties": {
                "status_code": {"type": "integer"},
                "body": {"anyOf": [{"type": kind} for kind in
                                   ("object", "string", "integer", "number", "boolean", "array", "null")]},
                "parsed": {"type": "boolean"},
                "headers": {"type": "object"},
            },
            "additionalProperties": False,
        },
    }

    def run(self, ctx: RunContext) -> RunResult:
        try:
            request = build_request(ctx)
        except ValueError as exc:
            return RunResult("failed", {"error": str(exc)})
        box: dict = {}
        worker = threading.Thread(target=_send, args=(request, box), daemon=True, name="http-request")
        worker.start()
        while worker.is_alive():
            if ctx.cancel.wait(0.05):
                return RunResult("canceled", {"error": "The request was canceled."})
        if "error" in box:
            exc = box["error"]
            status = "timeout" if isinstance(exc, requests.exceptions.Timeout) else "failed"
            return RunResult(status, {"error": str(exc)})
        result = box["result"]
        return RunResult("succeeded" if result["status_code"] in SUCCESS_CODES else "failed", result)


def build_request(ctx: RunContext) -> dict:
    """requests.request() keyword arguments from the runner and action parameters."""
    params = {**ctx.action_parameters, **ctx.runner_parameters}
    url = params.get("url")
    if not url:
        raise ValueError("URL must be specified.")
    blacklist, whitelist = params.get("url_hosts_blacklist") or [], params.get("url_hosts_whitelist") or []
    if blacklist and whitelist:
        raise ValueError('"url_hosts_blacklist" and "url_hosts_whitelist" parameters are mutually exclusive. '
                         "Only one should be provided.")
    host = _host(url)
    if blacklist and host in blacklist:
        raise ValueError(f'URL "{url}" is blacklisted')
    if whitelist and host not in whitelist:
        raise ValueError(f'URL "{url}" is not whitelisted')

    headers = {str(k): str(v) for k, v in (params.get("headers") or {}).items()}
    headers["User-Agent"] = USER_AGENT
    headers["X-Stanley-Action"] = ctx.action.get("name", "")
    auth: Any = None
    if params.get("username") or params.get("password"):
        auth = (params.get("username") or "", params.get("password") or "")
    elif isinstance(params.get("auth"), str) and "=" in params["auth"]:
        name, _, value = params["auth"].partition("=")  # core.http's "x-auth-token=XYZ" form
        headers[name.strip()] = value.strip()

    body = params.get("body")
    files = None
    if params.get("file_name") and params.get("file_content"):
        content = params["file_content"]
        files = {params["file_name"]: (content, params["file_content_type"]) if params.get("file_content_type")
                 else content}
    if body is not None and _content_type(headers) == JSON_TYPE:
        body = json.dumps(_as_object(body))
    if isinstance(body, str):
        body = body.encode("utf-8")
    proxies = {scheme: params[f"{scheme}_proxy"] for scheme in ("http", "https") if params.get(f"{scheme}_proxy")}
    return {
        "method": params.get("method") or ("POST" if body or files else "GET"),
        "url": url,
        "params": params.get("params") or None,
        "data": body,
        "headers": headers,
        "cookies": params.get("cookies") or None,
        "auth": auth,
        "timeout": float(params.get("timeout") or DEFAULT_TIMEOUT),
        "allow_redirects": bool(params.get("allow_redirects", False)),
        "proxies": proxies or None,
        "files": files,
        "verify": params.get("verify_ssl_cert", True),
    }


def _send(request: dict, box: dict) -> None:
    try:
        with requests.request(**request) as response:
            box["result"] = response_result(response)
    except Exception as exc:  # any failure becomes the action's error
        box["error"] = exc


def response_result(response: requests.Response) -> dict:
    headers = dict(response.headers)
    body: Any = response.text or ""
    parsed = False
    if _content_type(headers) == JSON_TYPE:
        try:
            body, parsed = json.loads(body), True
        except ValueError:
            pass
    return {"status_code": response.status_code, "body": body, "parsed": parsed, "headers": headers}


def _content_type(headers: dict) -> Optional[str]:
    for key, value in headers.items():
        if key.lower() == "content-type":
            return str(value).split(";")[0].strip().lower()
    return None


def _as_object(body: Any) -> Any:
    """A JSON request body given as text may be JSON or a Python literal (StackStorm accepts both)."""
    if not isinstance(body, str):
        return body
    try:
        return json.loads(body)
    except ValueError:
        try:
            return ast.literal_eval(body)
        except (ValueError, SyntaxError) as exc:
            raise ValueError(f"Request body ({body}) can't be parsed as JSON") from exc


def _host(url: str) -> str:
    parsed = urlparse(url)
    return (parsed.hostname or "").strip("[]")
