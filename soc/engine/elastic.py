"""A real, secured Elasticsearch node for tests and local checks, from Maven Central.

Elasticsearch's integ-test zip (core server, transport, x-pack security; no bundled JDK) is
resolved once with Maven and unpacked into a cache. Each node gets its own home with a copy of the
config, TLS on HTTP with a CA and certificate made here by openssl, a file-realm superuser, and
basic authentication. Elasticsearch refuses to run as root, so under root it runs as a system
user made for it.

What this distribution cannot do: anything that needs the `.security` system index (native users
and roles, API keys), because that index's mapping uses analysis-common's `pattern_capture`
filter, which the integ-test zip leaves out ("Unknown filter type [pattern_capture] for [email]").
File-realm users and file roles (roles.yml) work, so that is what tests use.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from soc.engine.launcher import default_cache_dir
from soc.errors import EngineError

VERSION = "8.17.4"
ARTIFACT = f"org.elasticsearch.distribution.integ-test-zip:elasticsearch:{VERSION}:zip"
SERVICE_USER = "soc-engine"
ADMIN = "soc-admin"


@dataclass
class ElasticNode:
    home: Path
    url: str
    ca_file: Path
    admin_password: str = field(repr=False)
    process: subprocess.Popen[bytes]

    def stop(self, timeout_s: float = 30) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def distribution(cache_dir: Path | None = None) -> Path:
    """The unpacked distribution, resolved through Maven and unpacked once."""
    # Under root the install must be readable by the service user, and /root is not: use /var/cache.
    base = cache_dir or (Path("/var/cache/soc") if os.geteuid() == 0 else default_cache_dir())
    root = base / f"elasticsearch-{VERSION}"
    if (root / "bin" / "elasticsearch").exists():
        return root
    m2 = Path.home() / ".m2/repository/org/elasticsearch/distribution/integ-test-zip/elasticsearch"
    archive = m2 / VERSION / f"elasticsearch-{VERSION}.zip"
    if not archive.exists():
        done = subprocess.run(
            ["mvn", "-q", "-B", "dependency:get", f"-Dartifact={ARTIFACT}", "-Dtransitive=false"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode != 0 or not archive.exists():
            raise EngineError(f"cannot resolve {ARTIFACT} with Maven: {(done.stdout + done.stderr)[-800:]}")
    staging = root.with_name(root.name + ".part")
    shutil.rmtree(staging, ignore_errors=True)
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            target = (staging / Path(info.filename).relative_to(f"elasticsearch-{VERSION}")).resolve()
            if not target.is_relative_to(staging.resolve()):
                raise EngineError(f"{archive}: entry {info.filename!r} points outside the install folder")
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(zf.read(info))
            mode = info.external_attr >> 16
            if mode:
                target.chmod(mode & 0o777)
    staging.rename(root)
    return root


def start(home: Path, *, heap_mb: int = 512, timeout_s: float = 180) -> ElasticNode:
    """Start a node with its data under `home` (which the service user must be able to reach)."""
    port, transport = _free_port(), _free_port()
    dist = distribution()
    home.mkdir(parents=True, exist_ok=True)
    conf = home / "config"
    shutil.copytree(dist / "config", conf, dirs_exist_ok=True)
    ca, _ = _certificates(conf)
    (conf / "elasticsearch.yml").write_text(
        "\n".join(
            [
                "cluster.name: soc-test", "network.host: 127.0.0.1", f"http.port: {port}",
                f"transport.port: {transport}", "discovery.type: single-node",
                f"path.data: {home / 'data'}", f"path.logs: {home / 'logs'}",
                "cluster.routing.allocation.disk.threshold_enabled: false",
                "xpack.security.enabled: true", "xpack.security.http.ssl.enabled: true",
                "xpack.security.http.ssl.certificate: node.crt", "xpack.security.http.ssl.key: node.key",
                "xpack.security.http.ssl.certificate_authorities: [ca.crt]",
                "",
            ]
        ),
        encoding="utf-8",
    )  # fmt: skip
    env = {**os.environ, "ES_PATH_CONF": str(conf), "ES_JAVA_OPTS": f"-Xms{heap_mb}m -Xmx{heap_mb}m"}
    env["ES_JAVA_HOME"] = env.get("ES_JAVA_HOME") or env.get("JAVA_HOME") or _java_home()
    password = secrets.token_urlsafe(18)
    user = _service_user(home, dist)
    run_as = ["runuser", "-u", user, "--"] if user else []
    users_tool = [*run_as, "env", f"ES_PATH_CONF={conf}", f"ES_JAVA_HOME={env['ES_JAVA_HOME']}"]
    _check(
        [
            *users_tool,
            str(dist / "bin/elasticsearch-users"),
            "useradd",
            ADMIN,
            "-p",
            password,
            "-r",
            "superuser",
        ]
    )
    log = (home / "elasticsearch.out").open("wb")
    process = subprocess.Popen(
        [*run_as, "env", *(f"{k}={env[k]}" for k in ("ES_PATH_CONF", "ES_JAVA_OPTS", "ES_JAVA_HOME")),
         str(dist / "bin/elasticsearch")],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    url = f"https://127.0.0.1:{port}"
    node = ElasticNode(home, url, ca, password, process)
    try:
        _wait_healthy(node, timeout_s)
    except BaseException:
        node.stop(10)
        raise
    return node


def _wait_healthy(node: ElasticNode, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    tls = ssl.create_default_context(cafile=str(node.ca_file))
    with httpx.Client(verify=tls, auth=(ADMIN, node.admin_password), timeout=10) as client:
        while True:
            if node.process.poll() is not None:
                tail = (node.home / "elasticsearch.out").read_text(errors="replace")[-1500:]
                raise EngineError(f"Elasticsearch exited with {node.process.returncode}: {tail}")
            try:
                health = client.get(f"{node.url}/_cluster/health").json()
                if health.get("status") in ("green", "yellow"):
                    return
            except (httpx.HTTPError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise EngineError(f"Elasticsearch did not become healthy within {timeout_s:g} s")
            time.sleep(1)


def _certificates(conf: Path) -> tuple[Path, Path]:
    """A CA and a node certificate for 127.0.0.1/localhost, made with the openssl command."""
    ca_key, ca, key, csr, crt = (conf / n for n in ("ca.key", "ca.crt", "node.key", "node.csr", "node.crt"))
    new_key = ["openssl", "req", "-newkey", "rsa:2048", "-nodes"]
    ca_subject = ["-x509", "-days", "30", "-subj", "/CN=SOC test CA"]
    _check([*new_key, *ca_subject, "-keyout", str(ca_key), "-out", str(ca)])
    _check([*new_key, "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(csr)])
    ext = conf / "san.ext"
    ext.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n", encoding="utf-8")
    sign = ["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key)]
    _check([*sign, "-CAcreateserial", "-days", "30", "-extfile", str(ext), "-out", str(crt)])
    return ca, crt


def _service_user(home: Path, dist: Path) -> str | None:
    """Under root: a system user for Elasticsearch (it refuses root), owning home and the install."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        _check(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVICE_USER])
    for path in (home, dist):
        _check(["chown", "-R", SERVICE_USER, str(path)])
    return SERVICE_USER


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _java_home() -> str:
    java = shutil.which("java")
    if not java:
        raise EngineError("no java on PATH and no JAVA_HOME/ES_JAVA_HOME: install a JDK 17+")
    return str(Path(java).resolve().parents[1])


def _check(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise EngineError(f"{command[0]} failed: {(done.stdout + done.stderr).strip()[-500:]}")
