"""A real, secured Elasticsearch node for tests and local checks, from Maven Central.

Elasticsearch's integ-test zip (core server, transport, x-pack security; no bundled JDK) is
resolved once with Maven and unpacked into a cache. Each node gets its own home with a copy of the
config, TLS on HTTP with a CA and certificate made here by openssl, a file-realm superuser, and
basic authentication. Elasticsearch refuses to run as root, so under root it runs as a system
user made for it.

The zip leaves out analysis-common, whose `pattern_capture`, `unique` and `uax_url_email` the
`.security` system index's settings use ("Unknown filter type [pattern_capture] for [email]"), so
out of the box it has no native roles, users or API keys. `install_shim` compiles the test-only
plugin in deploy/elasticsearch/analysis-shim (thin factories over Lucene's classes under those
three names) against the distribution's lib/ with javac and installs it into the cached
distribution's plugins/ (again only when its source changes). With it the security API works:
the tests create roles and API keys and run the store suite with an API key. A full distribution
has analysis-common and must not get the shim.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
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
SHIM = "soc-analysis-shim"
SHIM_SOURCE = Path(__file__).resolve().parents[2] / "deploy" / "elasticsearch" / "analysis-shim"
SHIM_DESCRIPTOR = f"""\
name={SHIM}
description=Test/dev only: analysis-common's uax_url_email, pattern_capture and unique over Lucene, \
for the integ-test zip's .security index (deploy/elasticsearch/analysis-shim)
classname=soc.elasticsearch.shim.AnalysisShimPlugin
java.version=17
elasticsearch.version={VERSION}
"""


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
    """The unpacked distribution with the analysis shim, resolved through Maven and unpacked once."""
    # Under root the install must be readable by the service user, and /root is not: use /var/cache.
    base = cache_dir or (Path("/var/cache/soc") if os.geteuid() == 0 else default_cache_dir())
    root = base / f"elasticsearch-{VERSION}"
    if not (root / "bin" / "elasticsearch").exists():
        _unpack(_archive(), root)
    install_shim(root)
    return root


def _archive() -> Path:
    m2 = Path.home() / ".m2/repository/org/elasticsearch/distribution/integ-test-zip/elasticsearch"
    archive = m2 / VERSION / f"elasticsearch-{VERSION}.zip"
    if not archive.exists():
        done = subprocess.run(
            ["mvn", "-q", "-B", "dependency:get", f"-Dartifact={ARTIFACT}", "-Dtransitive=false"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode != 0 or not archive.exists():
            raise EngineError(f"cannot resolve {ARTIFACT} with Maven: {(done.stdout + done.stderr)[-800:]}")
    return archive


def _unpack(archive: Path, root: Path) -> None:
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


def install_shim(dist: Path, source: Path = SHIM_SOURCE) -> Path:
    """Compile the analysis shim against `dist`/lib and install it as plugins/soc-analysis-shim.

    The descriptor's version carries a digest of the sources (and the descriptor), so a cached
    install is kept until the Java changes. Files are world-readable: the node's user loads them.
    """
    sources = sorted(source.glob("*.java"))
    if not sources:
        raise EngineError(f"no analysis shim sources in {source} (a source checkout is needed)")
    digest = hashlib.sha256(SHIM_DESCRIPTOR.encode())
    for path in sources:
        digest.update(path.read_bytes())
    descriptor = f"{SHIM_DESCRIPTOR}version={VERSION}-{digest.hexdigest()[:16]}\n"
    target = dist / "plugins" / SHIM
    if _installed(target) == descriptor:
        return target
    # Built outside plugins/: Elasticsearch loads every folder there, finished or not.
    with tempfile.TemporaryDirectory(prefix=f".{SHIM}-", dir=dist) as tmp:
        classes, staging = Path(tmp) / "classes", Path(tmp) / SHIM
        _check([_javac(), "--release", "17", "-nowarn", "-cp", str(dist / "lib" / "*"),
                "-d", str(classes), *map(str, sources)])  # fmt: skip
        staging.mkdir()
        with zipfile.ZipFile(staging / f"{SHIM}.jar", "w", zipfile.ZIP_DEFLATED) as jar:
            for cls in sorted(classes.rglob("*.class")):
                jar.write(cls, cls.relative_to(classes).as_posix())
        (staging / "plugin-descriptor.properties").write_text(descriptor, encoding="utf-8")
        staging.chmod(0o755)
        for path in staging.iterdir():
            path.chmod(0o644)
        shutil.rmtree(target, ignore_errors=True)
        try:
            staging.rename(target)
        except OSError:  # another process installed it meanwhile
            if _installed(target) != descriptor:
                raise
    return target


def _installed(plugin: Path) -> str:
    try:
        return (plugin / "plugin-descriptor.properties").read_text(encoding="utf-8")
    except OSError:
        return ""


def _javac() -> str:
    for home in (os.environ.get("ES_JAVA_HOME"), os.environ.get("JAVA_HOME")):
        if home and (Path(home) / "bin" / "javac").exists():
            return str(Path(home) / "bin" / "javac")
    javac = shutil.which("javac")
    if not javac:
        raise EngineError("no javac (JDK 17+) to build the analysis shim: install a JDK, not only a JRE")
    return javac


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
