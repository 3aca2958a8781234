"""Least privilege on the real secured Elasticsearch node, both ways `soc engine bootstrap` applies it:
the security API (roles through _security/role, an API key per collector; the test node has a
`.security` index thanks to the analysis shim, see soc.engine.elastic) and the file realm (roles.yml
and users in the node's config directory, as an operator would). Every collector and reader
behaviour runs once per way."""

from __future__ import annotations

import os
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
from soc.store.clients import ElasticsearchEngine
from soc.store.query import MatchAll
from soc.store.search import SearchStore

PREFIX = "lp"
DAY = "2026.11.27"
AGENCIES = ["so", "so-a", "so-b"]


@dataclass
class Cluster:
    kind: str
    """`file_realm` or `api_keys`: also part of every document id, so both ways share the indices."""
    url: str
    tls: ssl.SSLContext
    credentials: dict[str, tuple[str, str] | str]
    """Agency code, `reader` or `service` -> (user, password) or a base64 `id:key` API key."""
    store: SearchStore

    def client(self, who: str) -> httpx.Client:
        credential = self.credentials[who]
        if isinstance(credential, tuple):
            return httpx.Client(base_url=self.url, verify=self.tls, auth=credential, timeout=30)
        headers = {"Authorization": f"ApiKey {credential}"}
        return httpx.Client(base_url=self.url, verify=self.tls, headers=headers, timeout=30)

    def doc_id(self, index: str) -> str:
        return f"{index}-{self.kind}"

    def create(self, client: httpx.Client, index: str) -> httpx.Response:
        return bulk(client, "create", index, self.doc_id(index))


def _config_dir(store: SearchStore) -> Path:
    nodes = store.engine.client.nodes.info(metric="settings")["nodes"]  # type: ignore[attr-defined]
    data = next(iter(nodes.values()))["settings"]["path"]["data"]
    return Path(data[0] if isinstance(data, list) else data).parent / "config"


def _admin_store(admin: Settings) -> SearchStore:
    if admin.store_api_key:
        reason = "a given cluster (SOC_TEST_ELASTICSEARCH_URL): these tests need the node's administrator"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"under CI=true the test command's own node must run them; {reason}", pytrace=False)
        pytest.skip(reason)
    store = SearchStore(ElasticsearchEngine(admin), prefix=PREFIX)
    store.ensure_schema()
    return store


def _clean(store: SearchStore) -> None:
    for name in store.engine.indices(f"{PREFIX}-events-*"):
        store.engine.delete_index(name)
    store.close()


@pytest.fixture(scope="module")
def file_realm(elasticsearch_admin: Settings) -> Iterator[Cluster]:
    store = _admin_store(elasticsearch_admin)
    creds = bootstrap.apply_files(_config_dir(store), PREFIX, AGENCIES)
    tls = ssl.create_default_context(cafile=elasticsearch_admin.store_ca_file)
    found = Cluster(
        "file_realm", elasticsearch_admin.store_url, tls,
        {c.agency or "reader": (c.username, c.password) for c in creds}, store,
    )  # fmt: skip
    deadline = time.monotonic() + 60  # the file realm reloads its files every few seconds
    logs = _config_dir(store).parent / "logs"
    for who in found.credentials:
        with found.client(who) as client:
            while not _effective(client):
                if time.monotonic() > deadline:
                    tail = "".join(p.read_text(errors="replace")[-3000:] for p in logs.glob("*.log"))
                    pytest.fail(f"{who} never got its role: {tail}")
                time.sleep(1)
    yield found
    _clean(store)


@pytest.fixture(scope="module")
def api_keys(elasticsearch_admin: Settings) -> Iterator[Cluster]:
    """bootstrap.apply_api's keys: one per agency collector, one for soc_service, one for soc_reader,
    each carrying its role as its only descriptor (roles.yml holds same-named roles, which would
    win for a key or user naming the role)."""
    store = _admin_store(elasticsearch_admin)
    client = store.engine.client  # type: ignore[attr-defined]
    creds = bootstrap.apply_api(client, PREFIX, AGENCIES)
    by_role = {"soc_service": "service", "soc_reader": "reader"}
    credentials: dict[str, tuple[str, str] | str] = {
        by_role.get(c.role) or str(c.agency): c.api_key for c in creds
    }
    assert {"service", "reader", *AGENCIES} <= credentials.keys()
    tls = ssl.create_default_context(cafile=elasticsearch_admin.store_ca_file)
    yield Cluster("api_keys", elasticsearch_admin.store_url, tls, credentials, store)
    _clean(store)


@pytest.fixture(params=["file_realm", "api_keys"])
def cluster(request: pytest.FixtureRequest) -> Cluster:
    found = request.getfixturevalue(request.param)
    assert isinstance(found, Cluster)
    return found


def _effective(client: httpx.Client) -> bool:
    """Users and roles files are reloaded separately: wait until the user has its role's privileges."""
    answer = client.get("/_security/user/_privileges")
    return answer.status_code == 200 and bool(answer.json().get("indices"))


def bulk(client: httpx.Client, action: str, index: str, doc_id: str) -> httpx.Response:
    doc = {"@timestamp": "2026-11-27T01:00:00Z", "message": "m", "event": {"dataset": "system.auth"}}
    lines = orjson.dumps({action: {"_index": index, "_id": doc_id}}) + b"\n" + orjson.dumps(doc) + b"\n"
    return client.post("/_bulk", content=lines, headers={"Content-Type": "application/x-ndjson"})


def item_status(response: httpx.Response) -> int:
    assert response.status_code == 200, response.text
    (item,) = response.json()["items"]
    return int(next(iter(item.values()))["status"])


def own(agency: str) -> str:
    return f"{PREFIX}-events-{agency}.system.auth-{DAY}"


def test_it_lets_a_collector_create_documents_in_its_agency_index(cluster: Cluster) -> None:
    with cluster.client("so-a") as a:
        assert item_status(cluster.create(a, own("so-a"))) == 201
    cluster.store.refresh()
    assert cluster.store.count(MatchAll(), agencies=None) >= 1  # the service reads it through lp-events-*


def test_it_refuses_a_collector_reading_its_own_index(cluster: Cluster) -> None:
    with cluster.client("so-a") as a:
        cluster.create(a, own("so-a"))
        assert a.post(f"/{own('so-a')}/_search", json={"query": {"match_all": {}}}).status_code == 403
        assert a.get(f"/{own('so-a')}/_doc/{cluster.doc_id(own('so-a'))}").status_code == 403
        wide = a.post(f"/{PREFIX}-events-*/_search", json={})
        assert wide.status_code in (200, 403)
        if wide.status_code == 200:  # wildcards resolve to nothing it may read
            assert wide.json()["hits"]["total"]["value"] == 0


def test_it_refuses_a_collector_deleting(cluster: Cluster) -> None:
    with cluster.client("so-a") as a:
        cluster.create(a, own("so-a"))
        assert a.delete(f"/{own('so-a')}/_doc/{cluster.doc_id(own('so-a'))}").status_code == 403
        assert a.delete(f"/{own('so-a')}").status_code == 403


def test_it_refuses_a_collector_writing_another_agencys_index(cluster: Cluster) -> None:
    with cluster.client("so-a") as a:
        assert item_status(cluster.create(a, own("so-b"))) == 403
        assert item_status(cluster.create(a, f"{PREFIX}-events-system.auth-{DAY}")) == 403  # the old naming
    with cluster.client("so") as so:  # agency `so` is not a prefix of agency `so-a`
        assert item_status(cluster.create(so, own("so-a"))) == 403
        assert item_status(cluster.create(so, own("so"))) == 201


def test_it_refuses_a_collector_overwriting_a_document(cluster: Cluster) -> None:
    with cluster.client("so-a") as a:
        cluster.create(a, own("so-a"))
        doc_id = cluster.doc_id(own("so-a"))
        assert a.put(f"/{own('so-a')}/_doc/{doc_id}", json={"message": "forged"}).status_code == 403
        assert item_status(bulk(a, "index", own("so-a"), doc_id)) == 403


def test_it_refuses_a_collector_issuing_credentials(cluster: Cluster) -> None:
    with cluster.client("so-a") as a:
        assert a.post("/_security/api_key", json={"name": "escalate"}).status_code == 403
        assert a.put("/_security/role/escalate", json={"cluster": ["all"]}).status_code == 403


def test_it_gives_the_reader_search_but_no_writes(cluster: Cluster) -> None:
    with cluster.client("so-b") as b:
        assert item_status(cluster.create(b, own("so-b"))) == 201
    cluster.store.refresh()
    with cluster.client("reader") as reader:
        found = reader.post(f"/{PREFIX}-events-*/_search", json={"query": {"match_all": {}}})
        assert found.status_code == 200
        assert found.json()["hits"]["total"]["value"] >= 1
        assert bulk(reader, "create", own("so-b"), "reader").status_code == 403  # no write privilege anywhere
        assert reader.delete(f"/{own('so-b')}").status_code == 403


def test_it_stores_every_role_through_the_security_api(api_keys: Cluster) -> None:
    stored = api_keys.store.engine.client.security.get_role()  # type: ignore[attr-defined]
    for name, body in bootstrap.roles(PREFIX, AGENCIES).items():
        assert stored[name]["cluster"] == body["cluster"]
        assert [(i["names"], i["privileges"]) for i in stored[name]["indices"]] == [
            (i["names"], i["privileges"]) for i in body["indices"]
        ]


def test_it_gives_the_service_ingest_read_templates_and_index_deletion(api_keys: Cluster) -> None:
    index = f"{PREFIX}-events-svc.system.auth-{DAY}"
    template = {"index_patterns": [f"{PREFIX}-events-svccheck-*"], "priority": 7}
    with api_keys.client("service") as service:
        assert item_status(bulk(service, "create", index, "service")) == 201
        assert service.post(f"/{index}/_refresh").status_code == 200
        assert service.get(f"/{index}/_doc/service").status_code == 200
        assert service.put(f"/_index_template/{PREFIX}-svccheck", json=template).status_code == 200
        assert service.delete(f"/_index_template/{PREFIX}-svccheck").status_code == 200
        assert service.delete(f"/{index}").status_code == 200  # retention drops whole daily indices


def test_it_refuses_the_service_other_indices_and_security(api_keys: Cluster) -> None:
    with api_keys.client("service") as service:
        assert item_status(bulk(service, "create", "other-events", "service")) == 403
        assert service.post("/.security/_search", json={}).status_code in (403, 404)
        assert service.post("/_security/api_key", json={"name": "escalate"}).status_code == 403


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


def _bootstrap_command(admin: Settings, tmp_path: Path, *extra: str) -> Path:
    from click.testing import CliRunner

    from soc.cli import cli

    env = {
        "SOC_DATA_DIR": str(tmp_path), "SOC_STORE": "elasticsearch", "SOC_STORE_URL": admin.store_url,
        "SOC_STORE_USERNAME": admin.store_username, "SOC_STORE_PASSWORD": admin.store_password,
        "SOC_STORE_CA_FILE": admin.store_ca_file, "SOC_STORE_INDEX_PREFIX": PREFIX,
    }  # fmt: skip
    out = tmp_path / "creds"
    result = CliRunner().invoke(cli, ["engine", "bootstrap", *extra, "--out", str(out)], env=env)
    assert result.exit_code == 0, result.output
    return out


def test_it_bootstraps_api_keys_from_the_command_line(
    api_keys: Cluster, elasticsearch_admin: Settings, tmp_path: Path
) -> None:
    out = _bootstrap_command(elasticsearch_admin, tmp_path, "--agency", "so-d")
    role = bootstrap.collector_role_name("so-d")
    api_keys.credentials["so-d"] = (out / f"{role}.api_key").read_text().strip()
    with api_keys.client("so-d") as d:
        assert item_status(api_keys.create(d, own("so-d"))) == 201
        assert item_status(api_keys.create(d, own("so-a"))) == 403
    with api_keys.client("so-a") as a:  # earlier agencies keep their keys
        assert item_status(api_keys.create(a, own("so-a"))) == 409  # allowed; that id is already stored
    api_keys.credentials["service-cli"] = (out / "soc_service.api_key").read_text().strip()
    with api_keys.client("service-cli") as service:  # the key to put in store_api_key
        assert service.get(f"/{PREFIX}-events-*/_search").status_code == 200
        assert service.post("/_security/api_key", json={"name": "escalate"}).status_code == 403


def test_it_bootstraps_the_file_realm_from_the_command_line(
    file_realm: Cluster, elasticsearch_admin: Settings, tmp_path: Path
) -> None:  # last: it gives soc-reader a new password
    conf = _config_dir(file_realm.store)
    out = _bootstrap_command(elasticsearch_admin, tmp_path, "--agency", "so-c", "--file-realm", str(conf))
    password = (out / "soc-collector-so-c.password").read_text().strip()
    file_realm.credentials["so-c"] = ("soc-collector-so-c", password)
    deadline = time.monotonic() + 60
    with file_realm.client("so-c") as c:
        while not _effective(c):
            assert time.monotonic() < deadline, "soc-collector-so-c never got its role"
            time.sleep(1)
        assert item_status(file_realm.create(c, own("so-c"))) == 201
        assert item_status(file_realm.create(c, own("so-a"))) == 403
    with file_realm.client("so-a") as a:  # earlier agencies keep their users
        assert item_status(file_realm.create(a, own("so-a"))) == 409  # allowed; that id is already stored
