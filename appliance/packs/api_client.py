"""The packs pack's calls to the API, as StackStorm's actions make them with st2client: to
ST2_ACTION_API_URL with the execution's ST2_ACTION_AUTH_TOKEN (standard library only)."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Optional

from appliance.packs import PackError

HTTP_TIMEOUT = 300  # a registration of many packs takes a while


class ApiClient:
    def __init__(self, api_url: Optional[str] = None, token: Optional[str] = None):
        self.api_url = (api_url or os.environ.get("ST2_ACTION_API_URL") or "").rstrip("/")
        self.token = token if token is not None else os.environ.get("ST2_ACTION_AUTH_TOKEN", "")

    def call(self, method: str, path: str, body: Optional[dict] = None) -> Any:
        if not self.api_url:
            raise PackError("ST2_ACTION_API_URL is not set: this action must run under the appliance.")
        data = json.dumps(body).encode("utf-8") if body is not None else None
        request = urllib.request.Request(self.api_url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("X-Auth-Token", self.token)
        try:
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:  # noqa: S310 - our API
                text = response.read().decode("utf-8")
        except urllib.error.HTTPError as exc:
            raise _fault(exc) from None
        except (urllib.error.URLError, OSError) as exc:
            raise PackError(f"Cannot reach the API at {self.api_url}: {getattr(exc, 'reason', exc)}") from None
        return json.loads(text) if text else None

    def register(self, packs: Optional[list[str]], types: list[str]) -> dict:
        body: dict = {"types": types}
        if packs:
            body["packs"] = packs
        return self.call("POST", "/packs/register", body)

    def unload(self, packs: list[str]) -> dict:
        return self.call("POST", "/packs/unload", {"packs": packs})

    def execution(self, execution_id: str) -> Optional[dict]:
        """The execution, None when it does not exist."""
        try:
            return self.call("GET", "/executions/" + urllib.parse.quote(execution_id, safe=""))
        except PackError as exc:
            if getattr(exc, "status", None) == 404:
                return None
            raise


def _fault(exc: urllib.error.HTTPError) -> PackError:
    try:
        message = json.loads(exc.read().decode("utf-8")).get("faultstring")
    except (ValueError, AttributeError, OSError):
        message = None
    error = PackError(message or f"{exc.code} {exc.reason}")
    error.status = exc.code
    return error
