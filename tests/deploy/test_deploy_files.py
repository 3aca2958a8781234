"""The deployment files in deploy/ check out with the tools this machine has.

- compose.yaml: there is no `docker compose` plugin here (only the bare docker CLI, no daemon), so
  its structure is checked with PyYAML: services, healthchecks, secrets as files, nothing inline.
- systemd units: `systemd-analyze verify` on copies whose /opt/soc/venv/bin points at this
  checkout's .venv/bin (the only difference), so any warning at all fails the test.
- nginx: `nginx -t` on deploy/nginx/soc.conf inside a wrapper `http {}` with a throw-away
  certificate.
- the example configs: loaded by the real validators (soc.settings.load and the collector's
  loader, as `soc-collector validate` does) with zero problems.

A missing tool skips its test locally and fails it under CI=true.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from collectors import clashes
from collectors import settings as collector_settings
from soc import settings as soc_settings
from soc.notify import oncall, oncall_file

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNITS = ("soc.service", "soc-collector.service", "soc-collector-sniffer.service")
IN_CI = os.environ.get("CI", "").lower() == "true"


def missing(tool: str) -> None:
    if IN_CI:
        pytest.fail(f"{tool} is needed under CI=true", pytrace=False)
    pytest.skip(f"{tool} is not installed")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_it_defines_the_single_host_services(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"certs", "elasticsearch", "es-users", "postgres", "soc", "collector"}
    assert services["elasticsearch"]["image"].startswith(
        "docker.elastic.co/elasticsearch/elasticsearch:8.17."
    )
    assert services["soc"]["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
    assert (DEPLOY / "Dockerfile").is_file()


def test_it_orders_startup_on_health_and_one_shot_steps(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["elasticsearch"]["depends_on"] == {
        "certs": {"condition": "service_completed_successfully"}
    }
    assert services["es-users"]["depends_on"] == {"elasticsearch": {"condition": "service_healthy"}}
    assert services["soc"]["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "es-users": {"condition": "service_completed_successfully"},
    }
    assert services["collector"]["depends_on"] == {"soc": {"condition": "service_healthy"}}
    for name in ("elasticsearch", "postgres", "soc", "collector"):
        check = services[name]["healthcheck"]
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name
        assert {"interval", "timeout", "retries"} <= set(check), name


def test_it_runs_elasticsearch_with_security_and_tls(compose: dict[str, Any]) -> None:
    env = compose["services"]["elasticsearch"]["environment"]
    assert env["xpack.security.enabled"] == "true"
    assert env["xpack.security.http.ssl.enabled"] == "true"
    assert env["ELASTIC_PASSWORD_FILE"] == "/run/secrets/elastic_password"
    soc_env = compose["services"]["soc"]["environment"]
    assert soc_env["SOC_STORE_URL"].startswith("https://")
    assert soc_env["SOC_STORE_CA_FILE"]
    assert "SOC_STORE_VERIFY_CERTS" not in soc_env


def test_it_takes_every_secret_from_a_file(compose: dict[str, Any]) -> None:
    declared = compose["secrets"]
    assert all(set(spec) == {"file"} for spec in declared.values())
    used = {s for service in compose["services"].values() for s in service.get("secrets", [])}
    assert used == set(declared)
    for name, service in compose["services"].items():
        for key, value in dict(service.get("environment", {})).items():
            assert not re.search(r"PASSWORD$|SECRET_KEY$|API_KEY$|DATABASE_URL$|TOKEN$", key), (name, key)
            if key.endswith("_FILE") and "/run/secrets/" in str(value):
                assert str(value).rsplit("/", 1)[1] in service["secrets"], (name, key)
    settings_names = set(soc_settings.SECRETS)
    soc_env = compose["services"]["soc"]["environment"]
    for key, value in soc_env.items():
        if str(value).startswith("/run/secrets/"):
            name = key.removeprefix("SOC_").removesuffix("_FILE").lower()
            assert name in settings_names, f"{key} is not a secret soc.settings reads from a file"


def test_it_keeps_containers_unprivileged(compose: dict[str, Any]) -> None:
    for name in ("soc", "collector"):
        service = compose["services"][name]
        assert service["cap_drop"] == ["ALL"]
        assert service["read_only"] is True
        assert "no-new-privileges:true" in service["security_opt"]
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert "FROM python:3.11-slim" in dockerfile
    assert re.search(r"^USER soc", dockerfile, re.MULTILINE)


def test_it_ships_an_env_example_without_secrets() -> None:
    example = (DEPLOY / ".env.example").read_text(encoding="utf-8")
    keys = [line.split("=", 1)[0] for line in example.splitlines() if line and not line.startswith("#")]
    assert "SOC_BASE_URL" in keys
    assert not [k for k in keys if re.search("PASSWORD|SECRET|TOKEN|API_KEY|DATABASE_URL", k)]


# --- systemd ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def systemd_analyze() -> str:
    found = shutil.which("systemd-analyze") or (
        "/usr/bin/systemd-analyze" if os.path.exists("/usr/bin/systemd-analyze") else None
    )
    if found is None:
        missing("systemd-analyze")
    assert found is not None
    return found


@pytest.mark.parametrize("unit", UNITS)
def test_it_verifies_the_systemd_unit(unit: str, systemd_analyze: str, tmp_path: Path) -> None:
    venv_bin = ROOT / ".venv" / "bin"
    assert (venv_bin / "soc").exists()
    assert (venv_bin / "soc-collector").exists()
    text = (DEPLOY / "systemd" / unit).read_text(encoding="utf-8")
    (tmp_path / unit).write_text(text.replace("/opt/soc/venv/bin/", f"{venv_bin}/"), encoding="utf-8")
    done = subprocess.run(
        [systemd_analyze, "verify", str(tmp_path / unit)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", done.stderr


def unit_lines(unit: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in (DEPLOY / "systemd" / unit).read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            out.setdefault(key, []).append(value)
    return out


@pytest.mark.parametrize("unit", UNITS)
def test_it_hardens_the_unit(unit: str) -> None:
    lines = unit_lines(unit)
    for key, value in {
        "NoNewPrivileges": "true",
        "ProtectSystem": "strict",
        "ProtectHome": "true",
        "PrivateTmp": "true",
        "Restart": "on-failure",
    }.items():
        assert lines[key] == [value], key
    assert "@system-service" in lines["SystemCallFilter"]
    assert lines["RestrictAddressFamilies"]
    assert lines["User"][0] in ("soc", "soc-collector")
    assert lines["LoadCredential"]
    assert "ReadWritePaths" not in lines  # StateDirectory= is the one writable place
    assert len(lines["StateDirectory"]) == 1


def test_it_gives_a_capability_to_the_sniffer_only() -> None:
    for unit in UNITS:
        lines = unit_lines(unit)
        expected = ["CAP_NET_RAW"] if unit == "soc-collector-sniffer.service" else [""]
        assert lines["CapabilityBoundingSet"] == expected, unit
        assert lines["AmbientCapabilities"] == expected, unit


def test_it_passes_every_service_secret_through_credentials() -> None:
    lines = unit_lines("soc.service")
    credentials = {value.split(":", 1)[0] for value in lines["LoadCredential"]}
    env = dict(value.split("=", 1) for value in lines["Environment"])
    for name in credentials:
        assert env[f"SOC_{name.upper()}_FILE"] == f"%d/{name}"
        assert name in soc_settings.SECRETS


# --- nginx ------------------------------------------------------------------------------------------


def test_it_passes_nginx_config_test(tmp_path: Path) -> None:
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if nginx is None:
        missing("nginx (Debian: nginx-light)")
    assert nginx is not None
    openssl = shutil.which("openssl")
    if openssl is None:
        missing("openssl")
    assert openssl is not None
    keys = ["-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")]
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=soc", *keys],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    conf = (DEPLOY / "nginx" / "soc.conf").read_text(encoding="utf-8")
    conf = re.sub(r"ssl_certificate\s+(\S+);", f"ssl_certificate {tmp_path / 'cert.pem'};", conf)
    conf = re.sub(r"ssl_certificate_key\s+(\S+);", f"ssl_certificate_key {tmp_path / 'key.pem'};", conf)
    (tmp_path / "soc.conf").write_text(conf, encoding="utf-8")
    temp = {name: tmp_path / name for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for path in temp.values():
        path.mkdir()
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path / 'nginx.pid'};\nerror_log stderr;\nevents {{}}\nhttp {{\n"
        + "".join(f"    {name}_temp_path {path};\n" for name, path in temp.items())
        + f"    access_log off;\n    include {tmp_path / 'soc.conf'};\n}}\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "[warn]" not in done.stderr, done.stderr


def test_it_lets_nginx_pass_what_the_service_accepts() -> None:
    conf = (DEPLOY / "nginx" / "soc.conf").read_text(encoding="utf-8")
    defaults = soc_settings.Settings()
    sizes = [int(m) for m in re.findall(r"client_max_body_size (\d+)m;", conf)]
    assert sizes[0] * 1024 * 1024 == defaults.ingest_max_body_bytes  # server-wide and ingest
    assert max(sizes) * 1024 * 1024 > defaults.dossier_upload_max_bytes  # dossier documents
    assert "Strict-Transport-Security" in conf
    assert "X-Forwarded-For" in conf


# --- example configs --------------------------------------------------------------------------------


@pytest.fixture
def secret_files(tmp_path: Path) -> dict[str, str]:
    """What systemd's LoadCredential= gives soc.service, as SOC_*_FILE variables."""
    env = {}
    for name in ("store_password", "secret_key", "database_url", "smtp_password"):
        path = tmp_path / name
        path.write_text("postgresql+psycopg://soc:x@db/soc" if name == "database_url" else "x")
        env[f"SOC_{name.upper()}_FILE"] = str(path)
    return env


def test_it_loads_the_example_service_settings(secret_files: dict[str, str]) -> None:
    settings = soc_settings.load(DEPLOY / "examples" / "soc.yml", environ=secret_files)
    assert settings.store == "elasticsearch"
    assert settings.secret_key == "x"


def test_it_documents_every_service_setting() -> None:
    text = (DEPLOY / "examples" / "soc.yml").read_text(encoding="utf-8")
    named = set(re.findall(r"^#? ?([a-z_]+):", text, re.MULTILINE))
    assert set(soc_settings._FIELDS) <= named, set(soc_settings._FIELDS) - named


def test_it_loads_the_example_oncall_file_with_every_option_shown() -> None:
    path = DEPLOY / "examples" / "oncall.yml"
    config = oncall.load(path)
    assert config.group_wait == oncall.OncallConfig().group_wait  # the example shows the default
    assert [(r.digest, r.policy) for r in config.routes] == [
        (True, "default"),
        (False, "agency-officers"),
        (False, "default"),
    ]
    assert config.route("high", "so-y-te", ["attack.t1110"]).policy == "agency-officers"
    text = path.read_text(encoding="utf-8")
    shown = set(re.findall(r"^\s*-? ?\{?([a-z_]+):", text, re.MULTILINE))
    shown |= set(re.findall(r"[{,] ?([a-z_]+):", text))
    every = {key for keys in oncall_file.KEYS.values() for key in keys}
    assert every <= shown, every - shown


@pytest.fixture
def collector_examples(tmp_path: Path) -> dict[str, Path]:
    """The examples with their credential paths (present only inside the running unit) moved here."""
    token = tmp_path / "token"
    token.write_text("soc_example\n")
    out = {}
    for name in ("collector", "sniffer", "collector-compose"):
        text = (DEPLOY / "examples" / f"{name}.yml").read_text(encoding="utf-8")
        text = re.sub(r"/run/credentials/[^/\s]+/token|/run/secrets/collector_token", str(token), text)
        out[name] = tmp_path / f"{name}.yml"
        out[name].write_text(text, encoding="utf-8")
    return out


def test_it_loads_the_example_collectors_together(collector_examples: dict[str, Path]) -> None:
    loaded = [collector_settings.load(collector_examples[n]) for n in ("collector", "sniffer")]
    assert clashes.problems([claim for config in loaded for claim in config.claims]) == []
    assert {type(s).type for s in loaded[0].sources.values()} == {"file", "syslog_udp", "syslog_tcp"}
    assert [type(s).type for s in loaded[1].sources.values()] == ["sniff"]


def test_it_loads_the_compose_collector(collector_examples: dict[str, Path]) -> None:
    config = collector_settings.load(collector_examples["collector-compose"])
    assert config.sink_name == "soc"


def test_it_shows_every_collector_option() -> None:
    from collectors.sinks import SINKS
    from collectors.sources import SOURCES

    text = (DEPLOY / "examples" / "collector.yml").read_text(encoding="utf-8")
    text += (DEPLOY / "examples" / "sniffer.yml").read_text(encoding="utf-8")
    named = set(re.findall(r"^[ #]*([a-z_]+):", text, re.MULTILINE))
    # `batch` is accepted by the loader but has no effect; the example says so instead of setting it.
    options = set(collector_settings.TOP) - {"batch"}
    options |= {"max_bytes", "address", "events_per_second", "burst"}
    for registry in (SOURCES, SINKS, collector_settings.TRANSFORMS):
        for cls in registry.values():
            options |= {f.name for f in dataclasses.fields(cls)}
    options |= {"pattern", "negate", "max_lines"}
    assert options <= named, options - named


def test_it_points_the_units_at_the_example_credentials() -> None:
    for unit, example in (("soc-collector", "collector"), ("soc-collector-sniffer", "sniffer")):
        text = (DEPLOY / "examples" / f"{example}.yml").read_text(encoding="utf-8")
        assert f"token_file: /run/credentials/{unit}.service/token" in text
        assert f"/etc/soc-collector/{example}.yml" in (DEPLOY / "systemd" / f"{unit}.service").read_text()


def test_the_compose_service_role_is_the_one_bootstrap_creates() -> None:
    from soc.engine.bootstrap import roles

    shipped = json.loads((DEPLOY / "elasticsearch" / "soc_service.role.json").read_text(encoding="utf-8"))
    assert shipped == roles("soc", [])["soc_service"]
