"""http-request against a local http.server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from http_runner.http_runner import HttpRunner
from runner_helpers import CORE, load_action, make_ctx, run_in_thread


class Handler(BaseHTTPRequestHandler):
    def _reply(self, code, body, content_type="application/json", extra=None):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _echo(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        self._reply(200, json.dumps({"method": self.command, "path": self.path, "body": body,
                                     "headers": {k.lower(): v for k, v in self.headers.items()}}),
                    "application/json; charset=utf-8")

    def do_GET(self):
        if self.path == "/text":
            self._reply(200, "plain words", "text/plain")
        elif self.path == "/missing":
            self._reply(404, '{"faultstring": "nope"}')
        elif self.path == "/slow":
            time.sleep(3)
            self._reply(200, "{}")
        elif self.path == "/redirect":
            self._reply(302, "", "text/plain", {"Location": "/text"})
        elif self.path == "/badjson":
            self._reply(200, "{not json")
        else:
            self._echo()

    do_POST = do_PUT = do_DELETE = _echo

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def run(url, **action_parameters):
    runner_parameters = {"url": url, "allow_redirects": False, "verify_ssl_cert": True,
                         **action_parameters.pop("runner", {})}
    ctx = make_ctx(load_action(CORE, "http"), runner_parameters=runner_parameters,
                   action_parameters=action_parameters, pack_dir=CORE)
    return HttpRunner().run(ctx)


def test_runner_type_matches_stackstorm():
    spec = HttpRunner.RUNNER_TYPE
    assert spec["name"] == "http-request" and spec["output_key"] == "body"
    params = spec["runner_parameters"]
    assert set(params) == {"url", "headers", "cookies", "username", "password", "allow_redirects",
                           "verify_ssl_cert", "http_proxy", "https_proxy", "url_hosts_blacklist",
                           "url_hosts_whitelist"}
    assert params["url"]["required"] is True and params["password"]["secret"] is True
    assert params["allow_redirects"]["default"] is False and params["verify_ssl_cert"]["default"] is True


def test_get_json_is_parsed_and_identifies_the_action(server):
    outcome = run(server + "/echo?x=1")
    assert outcome.status == "succeeded"
    result = outcome.result
    assert result["status_code"] == 200 and result["parsed"] is True
    assert result["body"]["method"] == "GET" and result["body"]["path"] == "/echo?x=1"
    assert result["body"]["headers"]["user-agent"] == "st2/v3.9.0"
    assert result["body"]["headers"]["x-stanley-action"] == "http"
    assert result["headers"]["Content-Type"].startswith("application/json")


def test_text_body_stays_text(server):
    outcome = run(server + "/text")
    assert outcome.result["body"] == "plain words" and outcome.result["parsed"] is False


def test_body_makes_a_post_and_json_content_type_encodes_it(server):
    outcome = run(server + "/echo", body="{'a': 1}", headers={"Content-Type": "application/json"},
                  params={"q": "z"})
    body = outcome.result["body"]
    assert body["method"] == "POST" and json.loads(body["body"]) == {"a": 1} and body["path"] == "/echo?q=z"


def test_explicit_method_basic_auth_and_auth_header(server):
    body = run(server + "/echo", method="PUT", runner={"username": "u", "password": "p"}).result["body"]
    assert body["method"] == "PUT" and body["headers"]["authorization"] == "Basic dTpw"
    body = run(server + "/echo", auth="x-auth-token=XYZ").result["body"]
    assert body["headers"]["x-auth-token"] == "XYZ"


def test_non_2xx_fails_with_the_response(server):
    outcome = run(server + "/missing")
    assert outcome.status == "failed"
    assert outcome.result["status_code"] == 404 and outcome.result["body"] == {"faultstring": "nope"}


def test_redirects_are_not_followed_by_default(server):
    assert run(server + "/redirect").result["status_code"] == 302
    followed = run(server + "/redirect", runner={"allow_redirects": True})
    assert followed.status == "succeeded" and followed.result["body"] == "plain words"


def test_invalid_json_response_is_kept_as_text(server):
    outcome = run(server + "/badjson")
    assert outcome.result["body"] == "{not json" and outcome.result["parsed"] is False


def test_timeout_gives_timeout_status(server):
    outcome = run(server + "/slow", timeout=0.5)
    assert outcome.status == "timeout" and "error" in outcome.result


def test_connection_refused_fails_cleanly():
    outcome = run("http://127.0.0.1:9/")
    assert outcome.status == "failed" and "error" in outcome.result


def test_host_blacklist_and_whitelist(server):
    assert "blacklisted" in run(server + "/text", runner={"url_hosts_blacklist": ["127.0.0.1"]}).result["error"]
    assert "not whitelisted" in run(server + "/text", runner={"url_hosts_whitelist": ["example.com"]}).result["error"]
    assert run(server + "/text", runner={"url_hosts_whitelist": ["127.0.0.1"]}).status == "succeeded"
    both = run(server + "/text", runner={"url_hosts_blacklist": ["a"], "url_hosts_whitelist": ["b"]})
    assert both.status == "failed" and "mutually exclusive" in both.result["error"]


def test_cancel_returns_at_once(server):
    ctx = make_ctx(load_action(CORE, "http"), runner_parameters={"url": server + "/slow"}, pack_dir=CORE)
    thread, box = run_in_thread(HttpRunner(), ctx)
    time.sleep(0.3)
    ctx.cancel.set()
    thread.join(2)
    assert box["result"].status == "canceled"
