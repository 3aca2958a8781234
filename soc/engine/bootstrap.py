"""`soc engine bootstrap`: least privilege on a secured Elasticsearch (or OpenSearch) cluster.

What it sets up: the index templates; a role per agency, `soc_collector_<agency>`, that may only
create documents in that agency's event indices (`soc-events-<agency>.*`: `create_doc` and
`auto_configure` for the daily index, no read, no delete, no other index); `soc_reader`, read-only
over every event index (dashboards, hunting); `soc_service`, what the service itself needs
(ingest, read, templates, retention's index deletion); and a credential per agency collector.

Two ways to apply it, both tested against the real secured node (tests/soc/engine/test_bootstrap.py):
- `security API`: PUT _security/role/… and an API key per collector limited to its role. The tests'
  integ-test zip can do this only with the test-only analysis shim that soc.engine.elastic installs
  (its `.security` index needs analysis-common's filters); a full distribution needs nothing extra.
- `file realm` (an operator who prefers files): roles.yml and users / users_roles entries written
  into the node's config directory (Elasticsearch reloads them within seconds).
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from soc.store.prepare import agency_part

COLLECTOR_PRIVILEGES = ["create_doc", "auto_configure"]
"""auto_configure lets a bulk create make the day's index (from the template) but not create,
delete or re-map indices explicitly."""
PBKDF2_ROUNDS = 10_000


def collector_role_name(agency: str) -> str:
    """File-realm role names take no '-' ("failed to parse role [soc_collector_so-a]"); agency codes
    may hold '-' and '_', so such codes get a short digest to keep `so-a` and `so_a` apart."""
    code = agency_part(agency)
    if "-" not in code and "_" not in code:
        return f"soc_collector_{code}"
    return f"soc_collector_{code.replace('-', '_')}_{hashlib.sha256(code.encode()).hexdigest()[:6]}"


def collector_user_name(agency: str) -> str:
    return f"soc-collector-{agency_part(agency)}"


def agency_indices(prefix: str, agency: str) -> str:
    return f"{prefix}-events-{agency_part(agency)}.*"


def roles(prefix: str, agencies: Iterable[str]) -> dict[str, dict[str, Any]]:
    events, rejected = f"{prefix}-events-*", f"{prefix}-rejected-*"
    out: dict[str, dict[str, Any]] = {
        "soc_service": {
            "cluster": ["monitor", "manage_index_templates"],
            "indices": [
                {
                    "names": [events, rejected],
                    "privileges": [
                        "create_index",
                        "create_doc",
                        "auto_configure",  # new fields of a document; create_doc alone is deprecated for it
                        "read",
                        "view_index_metadata",
                        "maintenance",
                        "delete_index",
                    ],
                }
            ],
        },
        "soc_reader": {
            "cluster": ["monitor"],
            "indices": [{"names": [events, rejected], "privileges": ["read", "view_index_metadata"]}],
        },
    }
    for agency in sorted(set(agencies)):
        out[collector_role_name(agency)] = {
            "cluster": [],
            "indices": [
                {"names": [agency_indices(prefix, agency)], "privileges": list(COLLECTOR_PRIVILEGES)}
            ],
        }
    return out


@dataclass(frozen=True)
class Credential:
    agency: str | None
    role: str
    username: str = ""
    password: str = field(default="", repr=False)
    api_key: str = field(default="", repr=False)
    """Base64 `id:key`, for `Authorization: ApiKey …` (security-API path)."""


def pbkdf2_hash(password: str, rounds: int = PBKDF2_ROUNDS) -> str:
    """The file realm's `{PBKDF2}` format (PBKDF2-HMAC-SHA512, 32-byte salt and key), which
    Elasticsearch recognises by its prefix: no bcrypt library or JVM tool needed."""
    salt = secrets.token_bytes(32)
    key = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, rounds, dklen=32)
    return f"{{PBKDF2}}{rounds}${base64.b64encode(salt).decode()}${base64.b64encode(key).decode()}"


def apply_files(
    conf_dir: Path, prefix: str, agencies: Iterable[str], *, reader: bool = True
) -> list[Credential]:
    """Write the roles into roles.yml and a file-realm user per agency collector (and soc-reader)
    into users / users_roles, keeping everything else in those files. New passwords every run."""
    wanted = roles(prefix, agencies)
    _merge_roles(conf_dir / "roles.yml", wanted)
    creds = [
        Credential(a, collector_role_name(a), collector_user_name(a), secrets.token_urlsafe(24))
        for a in sorted(set(agencies))
    ]
    if reader:
        creds.append(Credential(None, "soc_reader", "soc-reader", secrets.token_urlsafe(24)))
    _merge_users(conf_dir, {c.username: (pbkdf2_hash(c.password), c.role) for c in creds})
    return creds


def _merge_roles(path: Path, wanted: Mapping[str, Any]) -> None:
    current = (yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None) or {}
    current.update(wanted)
    _rewrite(path, yaml.dump(current, Dumper=_NoAliases, sort_keys=True))


class _NoAliases(yaml.SafeDumper):
    """Elasticsearch's roles.yml parser takes no YAML anchors (`&id001`): write every list out."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _merge_users(conf_dir: Path, users: Mapping[str, tuple[str, str]]) -> None:
    users_file, roles_file = conf_dir / "users", conf_dir / "users_roles"
    lines = users_file.read_text(encoding="utf-8").splitlines() if users_file.exists() else []
    kept = [line for line in lines if line.split(":", 1)[0] not in users]
    _rewrite(users_file, "\n".join([*kept, *(f"{u}:{h}" for u, (h, _) in users.items())]) + "\n")
    members: dict[str, list[str]] = {}
    if roles_file.exists():
        for line in roles_file.read_text(encoding="utf-8").splitlines():
            role, sep, names = line.partition(":")
            if sep:
                members[role] = [n for n in names.split(",") if n and n not in users]
    for user, (_, role) in users.items():
        members.setdefault(role, []).append(user)
    body = "".join(f"{role}:{','.join(names)}\n" for role, names in sorted(members.items()) if names)
    _rewrite(roles_file, body)


def _rewrite(path: Path, text: str) -> None:
    """Replace the file's content in place: owner and mode stay (the node's user must read it)."""
    existed = path.exists()
    with path.open("w", encoding="utf-8") as f:
        f.write(text)
    if not existed:
        path.chmod(0o640)
        parent = path.parent.stat()
        if os.geteuid() == 0:
            os.chown(path, parent.st_uid, parent.st_gid)


def apply_api(client: Any, prefix: str, agencies: Iterable[str]) -> list[Credential]:
    """The same through the security API. `client` is an `elasticsearch.Elasticsearch`
    authenticated as an administrator. Each API key carries its role as its only role
    descriptor: one per agency collector, one for the service (`store_api_key`) and one for
    read-only use (dashboards, hunting); the stored roles are there for users made separately."""
    wanted = roles(prefix, agencies)
    for name, body in wanted.items():
        client.security.put_role(name=name, **body)
    creds = []
    for role in ("soc_service", "soc_reader"):
        key = client.security.create_api_key(
            name=f"{role}-{secrets.token_hex(4)}", role_descriptors={role: wanted[role]},
            metadata={"soc_kind": role.removeprefix("soc_")},
        )  # fmt: skip
        creds.append(Credential(None, role, api_key=str(key["encoded"])))
    for agency in sorted(set(agencies)):
        role = collector_role_name(agency)
        key = client.security.create_api_key(
            name=f"{role}-{secrets.token_hex(4)}", role_descriptors={role: wanted[role]},
            metadata={"soc_agency": agency, "soc_kind": "collector"},
        )  # fmt: skip
        creds.append(Credential(agency, role, api_key=str(key["encoded"])))
    return creds


def write_credentials(out_dir: Path, creds: Iterable[Credential]) -> list[Path]:
    """One file per credential, mode 0600: `<user>.password` or `<role>.api_key`."""
    out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    written = []
    for cred in creds:
        name, secret = (f"{cred.username}.password", cred.password) if cred.username else (
            f"{cred.role}.api_key", cred.api_key)  # fmt: skip
        path = out_dir / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(secret + "\n")
        path.chmod(0o600)
        written.append(path)
    return written
