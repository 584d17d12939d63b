"""The st2-nginx site for real: Debian's nginx runs scripts/packaging/nginx/st2.conf with the
certificate st2-nginx-certificate makes, in front of an appliance started by the e2e harness, and
the real st2 CLI logs in, runs an action and tails one through https://127.0.0.1.

The site file is used as shipped, with only its locations on this machine replaced (each
replacement must find its text, so the file cannot drift from the test): the ports the appliance
was given instead of 9100-9102, a temp folder for the certificate and the logs, and loopback
addresses for the listeners. They listen on 443 and 80 when the test runs as root and both are
free, as on a site; otherwise on two free ports (the redirect then names the HTTPS port).
Without nginx or openssl these tests skip, except under CI=true, where they fail.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Iterator

import pytest
import requests

from tests.support.appliance_conf import free_ports

# The end-to-end harness (tests/e2e/e2e_harness.py), importable as tests/e2e/conftest.py has it.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "e2e"))
import e2e_harness as harness  # noqa: E402
from e2e_harness import Appliance  # noqa: E402

pytestmark = pytest.mark.packaging

NGINX_DIR = os.path.join(harness.ROOT, "scripts", "packaging", "nginx")
SITE = os.path.join(NGINX_DIR, "st2.conf")
MAKE_CERTIFICATE = os.path.join(NGINX_DIR, "st2-nginx-certificate")


def program(name: str, *fallbacks: str) -> str:
    found = shutil.which(name) or next((p for p in fallbacks if os.access(p, os.X_OK)), None)
    if not found:
        harness.unavailable(f"{name} is not installed (make test-tools installs it)")
    return found


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def listen_ports() -> tuple[int, int]:
    """(https, http): 443 and 80 when we may bind them and nothing else has them, else free ports."""
    if os.geteuid() == 0 and port_free(443) and port_free(80):
        return 443, 80
    https, http = free_ports(2)
    return https, http


def site_config(appliance: Appliance, https: int, http: int, ssl_dir: str, log_dir: str) -> str:
    """The shipped site, with this machine's ports and folders."""
    with open(SITE, encoding="utf-8") as handle:
        text = handle.read()
    replacements = [
        ("listen 80;", f"listen 127.0.0.1:{http};"),
        ("listen [::]:80;", f"listen [::1]:{http};"),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{https} ssl http2;"),
        ("listen [::]:443 ssl http2;", f"listen [::1]:{https} ssl http2;"),
        ("/etc/ssl/st2/", ssl_dir + "/"),
        ("/var/log/nginx/", log_dir + "/"),
        ("http://127.0.0.1:9100/", f"http://127.0.0.1:{appliance.auth_port}/"),
        ("http://127.0.0.1:9101/", f"http://127.0.0.1:{appliance.api_port}/"),
        ("http://127.0.0.1:9102", f"http://127.0.0.1:{appliance.stream_port}"),
    ]
    if https != 443:
        replacements.append(("https://$host$request_uri", f"https://$host:{https}$request_uri"))
    for old, new in replacements:
        assert old in text, f"{SITE} has no {old!r} any more: update this test"
        text = text.replace(old, new)
    if not socket.has_ipv6 or not _ipv6_loopback():
        text = "\n".join(line for line in text.splitlines() if "listen [::1]" not in line)
    return text


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


@dataclass
class Site:
    """nginx running the st2 site in front of `appliance`."""

    appliance: Appliance
    https: int
    http: int
    cert: str
    dir: str

    @property
    def base(self) -> str:
        return "https://127.0.0.1" + ("" if self.https == 443 else f":{self.https}")

    @property
    def plain(self) -> str:
        return "http://127.0.0.1" + ("" if self.http == 80 else f":{self.http}")

    def cli_env(self) -> dict:
        """The CLI pointed at the site only (ST2_BASE_URL would send auth to :9100 and the API to :9101)."""
        return {"ST2_BASE_URL": self.base, "ST2_AUTH_URL": f"{self.base}/auth/v1",
                "ST2_API_URL": f"{self.base}/api/v1", "ST2_STREAM_URL": f"{self.base}/stream/v1",
                "ST2_CACERT": self.cert}


def make_certificate(ssl_dir: str, *args: str) -> subprocess.CompletedProcess:
    program("openssl", "/usr/bin/openssl")
    return subprocess.run([MAKE_CERTIFICATE, "--dir", ssl_dir, *args], capture_output=True, text=True,
                          timeout=60, check=False, stdin=subprocess.DEVNULL)


def main_config(prefix: str, site_path: str) -> str:
    """An nginx.conf of our own around the site, as Debian's and EL's include conf.d/*.conf. Gzip is on,
    for event streams too, and st2stream's `X-Accel-Buffering: no` is ignored, so that the site's own
    settings are what keeps the stream unbuffered and uncompressed."""
    user = ""
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        user = f"user nobody {grp.getgrgid(nobody.pw_gid).gr_name};"
    temp = os.path.join(prefix, "temp")
    return f"""{user}
worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log info;
events {{ worker_connections 256; }}
http {{
    default_type application/octet-stream;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    access_log {prefix}/logs/access.log;
    gzip on;
    gzip_types text/event-stream application/json;
    gzip_min_length 1;
    proxy_ignore_headers X-Accel-Buffering;
    include {site_path};
}}
"""


@pytest.fixture(scope="module")
def embedded_appliance() -> Iterator[Appliance]:
    with harness.running_appliance("nginx") as made:
        yield made


@pytest.fixture(scope="module")
def site(embedded_appliance: Appliance) -> Iterator[Site]:
    nginx = program("nginx", "/usr/sbin/nginx")
    prefix = tempfile.mkdtemp(prefix="st2-nginx-")
    os.chmod(prefix, 0o755)  # the workers (nobody) read nothing here, but must reach temp/
    ssl_dir, logs = os.path.join(prefix, "ssl"), os.path.join(prefix, "logs")
    os.makedirs(logs)
    os.makedirs(os.path.join(prefix, "temp"))
    made = make_certificate(ssl_dir, "--name", "127.0.0.1")
    assert made.returncode == 0, made.stdout + made.stderr
    https, http = listen_ports()
    site_path, conf = os.path.join(prefix, "st2.conf"), os.path.join(prefix, "nginx.conf")
    with open(site_path, "w", encoding="utf-8") as handle:
        handle.write(site_config(embedded_appliance, https, http, ssl_dir, logs))
    with open(conf, "w", encoding="utf-8") as handle:
        handle.write(main_config(prefix, site_path))
    argv = [nginx, "-p", prefix, "-e", os.path.join(logs, "error.log"), "-c", conf]
    checked = subprocess.run([*argv, "-t"], capture_output=True, text=True, timeout=30, check=False)
    assert checked.returncode == 0, f"nginx -t refuses the site:\n{checked.stderr}"
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        def listening() -> bool:
            assert proc.poll() is None, f"nginx exited ({proc.returncode}): {proc.stderr.read().decode()}"
            return not port_free(https) and not port_free(http)

        assert harness.wait_until(listening, 15), "nginx did not listen within 15 s"
        yield Site(embedded_appliance, https, http, os.path.join(ssl_dir, "st2.crt"), prefix)
    finally:
        harness.stop_process(proc)
        if proc.stderr:
            proc.stderr.close()
        if not harness.KEEP:
            shutil.rmtree(prefix, ignore_errors=True)


# -- the certificate script ---------------------------------------------------------------------
def test_certificate_made_once_and_kept(tmp_path):
    ssl_dir = str(tmp_path / "ssl")
    made = make_certificate(ssl_dir, "--name", "st2.example.org")
    assert made.returncode == 0, made.stderr
    crt, key = os.path.join(ssl_dir, "st2.crt"), os.path.join(ssl_dir, "st2.key")
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(crt).st_mode) == 0o644
    text = subprocess.run(["openssl", "x509", "-in", crt, "-noout", "-subject", "-ext", "subjectAltName"],
                          capture_output=True, text=True, check=True).stdout
    assert "CN = st2.example.org" in text
    assert "DNS:st2.example.org" in text and "DNS:localhost" in text and "IP Address:127.0.0.1" in text
    public = [subprocess.run(argv, capture_output=True, check=True).stdout for argv in (
        ["openssl", "x509", "-in", crt, "-noout", "-pubkey"], ["openssl", "pkey", "-in", key, "-pubout"])]
    assert public[0] == public[1], "the key does not match the certificate"

    before = [open(path, "rb").read() for path in (crt, key)]
    again = make_certificate(ssl_dir)
    assert again.returncode == 0 and "keeping" in again.stdout
    assert [open(path, "rb").read() for path in (crt, key)] == before, "an existing certificate was replaced"
    assert sorted(os.listdir(ssl_dir)) == ["st2.crt", "st2.key"], "temp files left behind"


def test_certificate_half_a_pair_is_left_alone(tmp_path):
    ssl_dir = tmp_path / "ssl"
    ssl_dir.mkdir()
    (ssl_dir / "st2.crt").write_text("the site's certificate, its key still on the way\n")
    refused = make_certificate(str(ssl_dir))
    assert refused.returncode == 1 and "only one exists" in refused.stderr
    assert (ssl_dir / "st2.crt").read_text().startswith("the site's certificate")
    assert not (ssl_dir / "st2.key").exists()


# -- nginx in front of the appliance -------------------------------------------------------------
def test_plain_http_redirected_to_https(site: Site):
    for method, path in (("GET", "/api/v1/actions?pack=core&limit=1"), ("POST", "/auth/v1/tokens")):
        resp = requests.request(method, site.plain + path, allow_redirects=False, timeout=10)
        assert resp.status_code == 308, (method, path, resp.status_code, resp.text[:200])
        assert resp.headers["Location"] == site.base + path
    # and HTTPS serves what it points at, with the site's certificate (and no other)
    resp = requests.get(site.base + "/api/v1/actions?pack=core&limit=1", verify=site.cert, timeout=10,
                        headers={"X-Auth-Token": site.appliance.token})
    assert resp.status_code == 200 and resp.json()[0]["pack"] == "core"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(site.base + "/api/v1/actions", timeout=10)  # the system's CAs do not know it
    assert requests.get(site.base + "/", verify=site.cert, timeout=10).status_code == 404


def test_cli_login_run_and_tail_through_https(site: Site, tmp_path):
    appliance, env, home = site.appliance, site.cli_env(), str(tmp_path / "home")
    os.makedirs(home)
    login = appliance.st2("login", "st2admin", "-p", appliance.password, home=home, env=env)
    assert login.returncode == 0 and "Logged in as st2admin" in login.stdout, login.stdout + login.stderr

    done = appliance.st2("run", "core.local", "cmd=echo through nginx", "-j", home=home, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    result = harness.parse_json_output(done.stdout)
    assert result["status"] == "succeeded" and result["result"]["stdout"] == "through nginx"

    # --tail over the stream location: the first line must arrive while the action still runs
    # (a buffering proxy would hand both lines over together at the end)
    proc = subprocess.Popen(
        [harness.ST2, "run", "--tail", "core.local",
         "cmd=echo first-line; sleep 3; echo second-line"],
        env=appliance.env(home, **env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        stdin=subprocess.DEVNULL)
    seen: dict[str, float] = {}
    lines: list[str] = []

    def read() -> None:
        for line in proc.stdout:
            lines.append(line)
            for word in ("first-line", "second-line"):
                if word in line and "cmd=" not in line and word not in seen:
                    seen[word] = time.monotonic()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert proc.wait(90) == 0, "".join(lines)
    finally:
        harness.stop_process(proc)
    reader.join(10)
    output = "".join(lines)
    assert "first-line" in seen and "second-line" in seen, output
    assert seen["second-line"] - seen["first-line"] > 2.0, f"the tail arrived in one piece:\n{output}"
    assert "succeeded" in output, output


@pytest.mark.parametrize("path", ["/stream/v1/stream", "/api/v1/stream"])
def test_event_stream_is_neither_buffered_nor_compressed(site: Site, path: str):
    """The harness sets a 1 s heartbeat: the first bytes must arrive within a few seconds, not at a
    buffer's or the connection's end, and uncompressed although the client accepts gzip (which the
    surrounding http block turns on for text/event-stream)."""
    started = time.monotonic()
    with requests.get(site.base + path, headers={"X-Auth-Token": site.appliance.token, "Accept-Encoding": "gzip"},
                      verify=site.cert, stream=True, timeout=(5, 5)) as resp:
        assert resp.status_code == 200, resp.text[:200]
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        assert "Content-Encoding" not in resp.headers
        first = resp.raw.read(1)
    assert first and time.monotonic() - started < 5
