from __future__ import annotations

from pathlib import Path

import pytest

from soc.errors import ConfigError
from soc.settings import load


def test_it_uses_the_embedded_defaults() -> None:
    s = load(environ={})
    assert s.store == "sqlite"
    assert s.resolved_database_url.startswith("sqlite:///")
    assert s.store_verify_certs is True


def test_it_lets_the_environment_override_the_yaml_file(tmp_path: Path) -> None:
    config = tmp_path / "soc.yml"
    config.write_text("port: 9000\nlang: vi\n", encoding="utf-8")
    s = load(config, environ={"SOC_PORT": "9100"})
    assert (s.port, s.lang) == (9100, "vi")


def test_it_reads_secrets_from_files(tmp_path: Path) -> None:
    secret = tmp_path / "key"
    secret.write_text("s3cret-value\n", encoding="utf-8")
    s = load(environ={"SOC_SECRET_KEY_FILE": str(secret)})
    assert s.secret_key == "s3cret-value"
    assert "s3cret" not in repr(s)


def test_it_lists_every_problem_with_file_and_line(tmp_path: Path) -> None:
    config = tmp_path / "soc.yml"
    config.write_text("port: eighty\nstore: mongodb\nlang: fr\nprot: 1\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load(config, environ={"SOC_STORE_VERIFY_CERTS": "maybe"})
    problems = caught.value.problems
    assert f"{config}:1: port: invalid literal for int() with base 10: 'eighty': 'eighty'" in problems
    assert f"{config}:4: unknown setting 'prot'" in problems
    assert any("SOC_STORE_VERIFY_CERTS" in p for p in problems)
    assert any("unknown backend 'mongodb'" in p for p in problems)
    assert any("lang: expected en or vi" in p for p in problems)


def test_it_refuses_invalid_yaml_with_its_line(tmp_path: Path) -> None:
    config = tmp_path / "soc.yml"
    config.write_text("port: 1\nstore: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load(config, environ={})
    assert caught.value.problems[0].startswith(f"{config}:")
    assert "not valid YAML" in caught.value.problems[0]


def test_it_requires_an_engine_url_for_engine_backends() -> None:
    with pytest.raises(ConfigError, match="store_url: required"):
        load(environ={"SOC_STORE": "opensearch"})
    with pytest.raises(ConfigError, match="must start with http"):
        load(environ={"SOC_STORE": "elasticsearch", "SOC_STORE_URL": "es.local:9200"})


def test_trusted_proxies_must_be_addresses_or_networks() -> None:
    assert load(environ={"SOC_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8"}).trusted_proxies
    with pytest.raises(ConfigError) as caught:
        load(environ={"SOC_TRUSTED_PROXIES": "127.0.0.1,nginx"})
    assert "trusted_proxies: 'nginx' is not an IP address or network" in str(caught.value)
