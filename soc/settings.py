"""Every SOC_* setting, read once and validated; all problems are reported together.

Sources, later ones winning: defaults, an optional YAML file (`SOC_CONFIG` or `--config`), the
environment. A secret may also come from a file named by `<NAME>_FILE` (Docker/systemd
credentials), so it never has to sit in the environment or the YAML.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from soc.errors import ConfigError

BACKENDS = ("sqlite", "opensearch", "elasticsearch")
LANGS = ("en", "vi")
SMTP_SECURITY = ("tls", "starttls", "plain")


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path(".soc-data")
    """Where the embedded databases, uploads and logs live."""
    database_url: str = field(default="", repr=False)
    """SQLAlchemy URL of the app database; default: SQLite file in data_dir."""
    store: str = "sqlite"
    """Event store backend: sqlite, opensearch or elasticsearch."""
    store_url: str = field(default="", repr=False)
    """Engine URL (https://host:9200) for opensearch/elasticsearch; unused for sqlite."""
    store_path: str = ""
    """SQLite event store file; default: events.db in data_dir."""
    store_username: str = ""
    store_password: str = field(default="", repr=False)
    store_api_key: str = field(default="", repr=False)
    store_ca_file: str = ""
    """CA bundle used to verify the engine's certificate."""
    store_verify_certs: bool = True
    """Verify the engine's TLS certificate. Turning this off is logged as a warning."""
    store_index_prefix: str = "soc"
    store_index_period: str = "auto"
    """Time one engine index covers: day, week, month, or auto (from each dataset's retention:
    monthly from 60 days or kept forever, weekly from 14, else daily). Keeps the shard count down."""
    store_replicas: int = 0
    """Replica shards per index for new indices (0 on one node; 1 on a three-node cluster)."""
    detect_workers: int = 2
    """Processes a detection pass over a big window (50k events or more) on an engine is split
    over, this one included (soc/store/parallel.py); 1: none."""
    host: str = "127.0.0.1"
    port: int = 8080
    secret_key: str = field(default="", repr=False)
    """Signs sessions and links. Required by `soc serve`; `soc demo` makes one."""
    ingest_max_body_bytes: int = 10 * 1024 * 1024
    ingest_max_line_bytes: int = 1024 * 1024
    rules_dir: str = ""
    """Sigma rules the scheduler runs; default: the bundled rules/ folder."""
    detection_settle_seconds: int = -1
    """How far behind now a detection window ends (engine refresh); -1: 0 for sqlite, 10 otherwise."""
    collector_silent_minutes: int = 15
    """A collector, host or agency with nothing received for this long is shown as silent."""
    retention_days: int = 0
    """Days of events kept per dataset unless `retention` says otherwise; 0: keep forever."""
    retention: str = ""
    """Per-dataset days, `system.auth=90,network=30` (YAML: a mapping); a name also covers its
    sub-datasets (`network` covers `network.flow`), the longest name wins; 0: keep forever."""
    retention_interval_seconds: int = 3600
    """How often `soc serve` applies retention."""
    lang: str = "en"
    """Language of CLI messages and default UI language: en or vi."""
    timezone: str = "Asia/Ho_Chi_Minh"
    base_url: str = ""
    """Public URL of the service, for links in e-mails; default: http://host:port."""
    trusted_proxies: str = ""
    """Comma-separated addresses of reverse proxies whose X-Forwarded-For/-Proto are believed (e.g.
    127.0.0.1 for nginx on the same host); then sign-in limits and audit see the real client."""
    smtp_host: str = ""
    """Mail relay for notifications; empty: messages wait in the outbox."""
    smtp_port: int = 0
    """0: 465 for tls, 587 for starttls, 25 for plain."""
    smtp_security: str = "starttls"
    """tls (implicit TLS), starttls (required; never falls back to clear text) or plain (local sinks)."""
    smtp_verify: bool = True
    """Verify the relay's certificate. Turning this off is logged as a warning on every connection."""
    smtp_ca_file: str = ""
    """CA bundle used to verify the relay's certificate; default: the system's."""
    smtp_username: str = ""
    smtp_password: str = field(default="", repr=False)
    smtp_timeout_seconds: int = 30
    smtp_from: str = "SOC <soc@localhost>"
    """From address of notification e-mails; its domain also names Message-IDs."""
    oncall_file: str = ""
    """On-call YAML (schedules, escalation policies, routes); default: oncall.yml in data_dir."""
    notify_dead_letter_to: str = ""
    """Second route: who is told when a notification is given up on (dead letter)."""
    notify_max_attempts: int = 8
    """Delivery attempts before a notification becomes a dead letter."""
    playbooks_dir: str = ""
    """Dossier and incident playbooks (YAML); default: the bundled playbooks/ folder."""
    dossier_regime: str = ""
    """Legal regime of new dossiers (a playbook's `regime`, e.g. decree-331-2026); default: the default."""
    dossier_bodies: str = ""
    """Agency acting for each routed body: `specialised_unit=stttt,system_owner=ubnd`; unlisted: city-wide."""
    dossier_days_off: str = ""
    """Extra days off (YYYY-MM-DD, comma separated) on top of Vietnamese public holidays."""
    dossier_make_up_days: str = ""
    """Weekend days worked to make up for a bridge day off (YYYY-MM-DD, comma separated)."""
    dossier_upload_max_bytes: int = 25 * 1024 * 1024
    """Largest dossier document accepted."""

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'soc.db').resolve()}"

    @property
    def resolved_rules_dir(self) -> Path:
        from soc.bundled import folder

        return Path(self.rules_dir) if self.rules_dir else folder("rules")

    @property
    def settle_seconds(self) -> int:
        if self.detection_settle_seconds >= 0:
            return self.detection_settle_seconds
        return 0 if self.store == "sqlite" else 10

    @property
    def resolved_store_path(self) -> Path:
        return Path(self.store_path) if self.store_path else self.data_dir / "events.db"


SECRETS = ("store_password", "store_api_key", "secret_key", "smtp_password", "database_url", "store_url")
"""Also readable from SOC_<NAME>_FILE; URLs count because they may carry a password."""
_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}


def load(
    config_file: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Build Settings from defaults, YAML, environment and explicit overrides (in that order)."""
    env = os.environ if environ is None else environ
    problems: list[str] = []
    raw: dict[str, tuple[Any, str]] = {}  # name -> (value, where it came from)

    path = config_file or env.get("SOC_CONFIG")
    if path:
        raw.update(_read_yaml(Path(path), problems))
    for name in _FIELDS:
        key = f"SOC_{name.upper()}"
        if key in env:
            raw[name] = (env[key], key)
        if name in SECRETS and f"{key}_FILE" in env:
            file_key = f"{key}_FILE"
            try:
                raw[name] = (Path(env[file_key]).read_text(encoding="utf-8").strip(), file_key)
            except OSError as exc:
                problems.append(f"{file_key}: cannot read {env[file_key]}: {exc.strerror}")
    for name, value in overrides.items():
        if value is not None:
            raw[name] = (value, f"--{name.replace('_', '-')}")

    values: dict[str, Any] = {}
    for name, (value, where) in raw.items():
        converted = _convert(name, value, where, problems)
        if converted is not None:
            values[name] = converted
    settings = Settings(**values)
    problems.extend(_check(settings))
    if problems:
        raise ConfigError(problems)
    return settings


def _read_yaml(path: Path, problems: list[str]) -> dict[str, tuple[Any, str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        problems.append(f"{path}: cannot read: {exc.strerror}")
        return {}
    try:
        node = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        problems.append(f"{path}:{line}: not valid YAML: {getattr(exc, 'problem', exc)}")
        return {}
    if node is None:
        return {}
    if not isinstance(node, yaml.MappingNode):
        problems.append(f"{path}:{node.start_mark.line + 1}: expected a mapping of settings")
        return {}
    out: dict[str, tuple[Any, str]] = {}
    for key_node, value_node in node.value:
        where = f"{path}:{key_node.start_mark.line + 1}"
        name = str(key_node.value)
        if name not in _FIELDS:
            problems.append(f"{where}: unknown setting '{name}'")
            continue
        out[name] = (yaml.safe_load(yaml.serialize(value_node)), where)
    return out


def _convert(name: str, value: Any, where: str, problems: list[str]) -> Any:
    kind = _FIELDS[name].type
    try:
        if kind == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError("expected true or false")
        if kind == "int":
            if isinstance(value, bool):
                raise ValueError("expected an integer")
            return int(value)
        if kind == "Path":
            return Path(str(value))
        if name == "retention":
            return _retention_text(value)
        if isinstance(value, dict | list):
            raise ValueError("expected a single value")
        return "" if value is None else str(value)
    except ValueError as exc:
        problems.append(f"{where}: {name}: {exc}: {value!r}")
        return None


def retention_map(text: str) -> dict[str, int]:
    """`system.auth=90, network=30` as {dataset: days}; ValueError names the first bad entry."""
    out: dict[str, int] = {}
    for entry in (e.strip() for e in text.split(",") if e.strip()):
        dataset, sep, days = entry.partition("=")
        dataset = dataset.strip()
        if not sep or not dataset:
            raise ValueError(f"'{entry}' is not dataset=days")
        try:
            number = int(days.strip())
        except ValueError:
            raise ValueError(f"'{entry}': days must be a whole number") from None
        if number < 0:
            raise ValueError(f"'{entry}': days must be >= 0 (0 keeps forever)")
        if dataset in out:
            raise ValueError(f"'{dataset}' is given twice")
        out[dataset] = number
    return out


def _retention_text(value: Any) -> str:
    if isinstance(value, dict):
        text = ",".join(f"{k}={'' if v is None else v}" for k, v in value.items())
    elif isinstance(value, list):
        raise ValueError("expected a mapping of dataset: days")
    else:
        text = "" if value is None else str(value)
    retention_map(text)
    return text


def _check(s: Settings) -> list[str]:
    problems = []
    if s.store not in BACKENDS:
        problems.append(f"store: unknown backend '{s.store}' (expected one of {', '.join(BACKENDS)})")
    if s.store in ("opensearch", "elasticsearch") and not s.store_url:
        problems.append(f"store_url: required when store is {s.store} (SOC_STORE_URL)")
    if s.store_url and not s.store_url.startswith(("http://", "https://")):
        problems.append(f"store_url: must start with http:// or https://: {s.store_url!r}")
    if s.lang not in LANGS:
        problems.append(f"lang: expected en or vi, got '{s.lang}'")
    if not 0 < s.port < 65536:
        problems.append(f"port: {s.port} is not a TCP port")
    if s.ingest_max_line_bytes <= 0 or s.ingest_max_body_bytes < s.ingest_max_line_bytes:
        problems.append("ingest_max_body_bytes must be >= ingest_max_line_bytes > 0")
    if s.store_username and not s.store_password:
        problems.append("store_password: required when store_username is set (or SOC_STORE_PASSWORD_FILE)")
    if s.smtp_security not in SMTP_SECURITY:
        problems.append(f"smtp_security: expected one of {', '.join(SMTP_SECURITY)}, got '{s.smtp_security}'")
    if not 0 <= s.smtp_port < 65536:
        problems.append(f"smtp_port: {s.smtp_port} is not a TCP port")
    if s.smtp_username and not s.smtp_password:
        problems.append("smtp_password: required when smtp_username is set (or SOC_SMTP_PASSWORD_FILE)")
    if s.smtp_timeout_seconds <= 0:
        problems.append("smtp_timeout_seconds: must be > 0")
    if s.store_index_period not in ("auto", "day", "week", "month"):
        problems.append(
            f"store_index_period: expected auto, day, week or month, got '{s.store_index_period}'"
        )
    if s.collector_silent_minutes < 1:
        problems.append(f"collector_silent_minutes: must be >= 1, got {s.collector_silent_minutes}")
    if s.detect_workers < 1:
        problems.append(f"detect_workers: must be >= 1, got {s.detect_workers}")
    if s.store_replicas < 0:
        problems.append(f"store_replicas: must be >= 0, got {s.store_replicas}")
    if s.retention_days < 0:
        problems.append("retention_days: must be >= 0 (0 keeps forever)")
    if s.retention_interval_seconds < 60:
        problems.append("retention_interval_seconds: must be >= 60")
    if s.notify_max_attempts < 1:
        problems.append("notify_max_attempts: must be >= 1")
    if s.base_url and not s.base_url.startswith(("http://", "https://")):
        problems.append(f"base_url: must start with http:// or https://: {s.base_url!r}")
    for proxy in (p.strip() for p in s.trusted_proxies.split(",") if p.strip()):
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            problems.append(f"trusted_proxies: '{proxy}' is not an IP address or network")
    return problems
