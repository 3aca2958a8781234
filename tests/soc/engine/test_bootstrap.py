"""Least privilege on the real secured Elasticsearch node (file realm: the integ-test zip has no
`.security` index, so roles and users go into the node's config directory as an operator would)."""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest

from soc.engine import bootstrap
from soc.settings import Settings
from soc.store.clients import connect
from soc.store.query import MatchAll
from soc.store.search import SearchStore

PREFIX = "lp"
DAY = "2026.11.27"


@dataclass
class Cluster:
    url: str
    tls: ssl.SSLContext
    passwords: dict[str, str]
    store: SearchStore

    def as_user(self, user: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, verify=self.tls, auth=(user, self.passwords[user]), timeout=30)


def _config_dir(store: SearchStore) -> Path:
    nodes = store.engine.client.nodes.info(metric="settings")["nodes"]  # type: ignore[attr-defined]
    data = next(iter(nodes.values()))["settings"]["path"]["data"]
    return Path(data[0] if isinstance(data, list) else data).parent / "config"


@pytest.fixture(scope="module")
def cluster(elasticsearch_settings: Settings) -> Iterator[Cluster]:
    if elasticsearch_settings.store_api_key:
        pytest.skip(
            "a given cluster (SOC_TEST_ELASTICSEARCH_URL): the file-realm path needs the node's files"
        )
    store = SearchStore(connect(elasticsearch_settings), prefix=PREFIX)
    store.ensure_schema()
    creds = bootstrap.apply_files(_config_dir(store), PREFIX, ["so", "so-a", "so-b"])
    tls = ssl.create_default_context(cafile=elasticsearch_settings.store_ca_file)
    found = Cluster(elasticsearch_settings.store_url, tls, {c.username: c.password for c in creds}, store)
    deadline = time.monotonic() + 60  # the file realm reloads its files every few seconds
    logs = _config_dir(store).parent / "logs"
    for user in found.passwords:
        with found.as_user(user) as client:
            while not _effective(client):
                if time.monotonic() > deadline:
                    tail = "".join(p.read_text(errors="replace")[-3000:] for p in logs.glob("*.log"))
                    pytest.fail(f"{user} never got its role: {tail}")
                time.sleep(1)
    yield found
    for name in store.engine.indices(f"{PREFIX}-events-*"):
        store.engine.delete_index(name)
    store.close()


def _effective(client: httpx.Client) -> bool:
    """Users and roles files are reloaded separately: wait until the user has its role's privileges."""
    answer = client.get("/_security/user/_privileges")
    return answer.status_code == 200 and bool(answer.json().get("indices"))


def bulk_create(client: httpx.Client, index: str, n: int = 1) -> httpx.Response:
    lines = b""
    for i in range(n):
        doc = {"@timestamp": "2026-11-27T01:00:00Z", "message": f"m{i}", "event": {"dataset": "system.auth"}}
        lines += (
            orjson.dumps({"create": {"_index": index, "_id": f"{index}-{i}"}})
            + b"\n"
            + orjson.dumps(doc)
            + b"\n"
        )
    return client.post("/_bulk", content=lines, headers={"Content-Type": "application/x-ndjson"})


def item_status(response: httpx.Response) -> int:
    assert response.status_code == 200, response.text
    return int(response.json()["items"][0]["create"]["status"])


def own(agency: str) -> str:
    return f"{PREFIX}-events-{agency}.system.auth-{DAY}"


def test_it_lets_a_collector_create_documents_in_its_agency_index(cluster: Cluster) -> None:
    with cluster.as_user("soc-collector-so-a") as a:
        assert item_status(bulk_create(a, own("so-a"))) == 201
    cluster.store.refresh()
    assert cluster.store.count(MatchAll(), agencies=None) >= 1  # the service reads it through lp-events-*


def test_it_refuses_a_collector_reading_its_own_index(cluster: Cluster) -> None:
    with cluster.as_user("soc-collector-so-a") as a:
        bulk_create(a, own("so-a"))
        assert a.post(f"/{own('so-a')}/_search", json={"query": {"match_all": {}}}).status_code == 403
        assert a.get(f"/{own('so-a')}/_doc/{own('so-a')}-0").status_code == 403
        assert a.post(f"/{PREFIX}-events-*/_search", json={}).status_code in (200, 403)
        wide = a.post(f"/{PREFIX}-events-*/_search", json={})
        if wide.status_code == 200:  # wildcards resolve to nothing it may read
            assert wide.json()["hits"]["total"]["value"] == 0


def test_it_refuses_a_collector_deleting(cluster: Cluster) -> None:
    with cluster.as_user("soc-collector-so-a") as a:
        bulk_create(a, own("so-a"))
        assert a.delete(f"/{own('so-a')}/_doc/{own('so-a')}-0").status_code == 403
        assert a.delete(f"/{own('so-a')}").status_code == 403


def test_it_refuses_a_collector_writing_another_agencys_index(cluster: Cluster) -> None:
    with cluster.as_user("soc-collector-so-a") as a:
        assert item_status(bulk_create(a, own("so-b"))) == 403
        assert item_status(bulk_create(a, f"{PREFIX}-events-system.auth-{DAY}")) == 403  # the old naming
    with cluster.as_user("soc-collector-so") as so:  # agency `so` is not a prefix of agency `so-a`
        assert item_status(bulk_create(so, own("so-a"))) == 403
        assert item_status(bulk_create(so, own("so"))) == 201


def test_it_refuses_a_collector_overwriting_a_document(cluster: Cluster) -> None:
    with cluster.as_user("soc-collector-so-a") as a:
        bulk_create(a, own("so-a"))
        again = a.put(f"/{own('so-a')}/_doc/{own('so-a')}-0", json={"message": "forged"})
        assert again.status_code == 403


def test_it_gives_the_reader_search_but_no_writes(cluster: Cluster) -> None:
    with cluster.as_user("soc-collector-so-b") as b:
        assert item_status(bulk_create(b, own("so-b"))) == 201
    cluster.store.refresh()
    with cluster.as_user("soc-reader") as reader:
        found = reader.post(f"/{PREFIX}-events-*/_search", json={"query": {"match_all": {}}})
        assert found.status_code == 200
        assert found.json()["hits"]["total"]["value"] >= 1
        assert bulk_create(reader, own("so-b")).status_code == 403  # no write privilege anywhere
        assert reader.delete(f"/{own('so-b')}").status_code == 403


def test_it_writes_each_role_for_its_own_agency_pattern() -> None:
    wanted = bootstrap.roles("soc", ["stttt", "so-a"])
    so_a = bootstrap.collector_role_name("so-a")
    assert so_a.startswith("soc_collector_so_a_")
    assert so_a != bootstrap.collector_role_name("so_a")
    assert wanted[so_a]["indices"] == [
        {"names": ["soc-events-so-a.*"], "privileges": ["create_doc", "auto_configure"]}
    ]
    assert set(wanted) == {"soc_service", "soc_reader", so_a, "soc_collector_stttt"}


def test_it_writes_credentials_readable_by_the_owner_only(tmp_path: Path) -> None:
    creds = [bootstrap.Credential("so-a", "soc_collector_so-a", "soc-collector-so-a", "pw")]
    (path,) = bootstrap.write_credentials(tmp_path / "out", creds)
    assert path.name == "soc-collector-so-a.password"
    assert path.stat().st_mode & 0o777 == 0o600


def test_it_bootstraps_from_the_command_line(
    cluster: Cluster, elasticsearch_settings: Settings, tmp_path: Path
) -> None:  # last: it gives soc-reader a new password
    from click.testing import CliRunner

    from soc.cli import cli

    s = elasticsearch_settings
    env = {
        "SOC_DATA_DIR": str(tmp_path), "SOC_STORE": "elasticsearch", "SOC_STORE_URL": s.store_url,
        "SOC_STORE_USERNAME": s.store_username, "SOC_STORE_PASSWORD": s.store_password,
        "SOC_STORE_CA_FILE": s.store_ca_file, "SOC_STORE_INDEX_PREFIX": PREFIX,
    }  # fmt: skip
    conf = _config_dir(cluster.store)
    args = [
        "engine",
        "bootstrap",
        "--agency",
        "so-c",
        "--file-realm",
        str(conf),
        "--out",
        str(tmp_path / "creds"),
    ]
    result = CliRunner().invoke(cli, args, env=env)
    assert result.exit_code == 0, result.output
    cluster.passwords["soc-collector-so-c"] = (
        (tmp_path / "creds" / "soc-collector-so-c.password").read_text().strip()
    )
    deadline = time.monotonic() + 60
    with cluster.as_user("soc-collector-so-c") as c:
        while not _effective(c):
            assert time.monotonic() < deadline, "soc-collector-so-c never got its role"
            time.sleep(1)
        assert item_status(bulk_create(c, own("so-c"))) == 201
        assert item_status(bulk_create(c, own("so-a"))) == 403
    with cluster.as_user("soc-collector-so-a") as a:  # earlier agencies keep their users
        assert item_status(bulk_create(a, own("so-a"))) == 409  # allowed; that id is already stored
