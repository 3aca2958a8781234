"""The one ECS processing pipeline: which events a Sigma logsource means, and its field names.

Every logsource we can read is one `Source` in `SOURCES`: the `event.dataset` values its events
carry (the store routes reads by them), an optional extra condition that narrows a shared dataset
(sshd inside system.auth, execve records inside auditd.log), and the ECS field for each Sigma
field name. A rule only ever sees its own source, so `not selection` cannot match the whole store.

Dataset names follow Filebeat modules (system.auth, nginx.access, auditd.log) and the network
sensor's own (network.dns, network.conn, network.flow). Fields that ECS has no name for stay in
the dataset's namespace (`zeek.dns.rejected`), as Filebeat does. A field already written in ECS
form (it has a dot, like `source.ip`) is taken as is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from soc.store.query import And, Or, Query, Term

KEYWORD_FIELD = "message"
"""Where field-less (keyword) detections search."""


@dataclass(frozen=True)
class Source:
    datasets: tuple[str, ...]
    scope: Query | None = None
    fields: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Per ECS field, Sigma values rewritten to ours (Sysmon's Initiated=true is egress)."""


def _terms(name: str, *values: str) -> Query:
    return Term(name, values[0]) if len(values) == 1 else Or(tuple(Term(name, v) for v in values))


_PROCESS = {
    "Image": "process.executable",
    "CommandLine": "process.command_line",
    "ParentImage": "process.parent.executable",
    "ParentCommandLine": "process.parent.command_line",
    "CurrentDirectory": "process.working_directory",
    "User": "user.name",
    "LogonId": "auditd.log.ses",
    "ProcessId": "process.pid",
    "ParentProcessId": "process.parent.pid",
    "OriginalFileName": "process.name",
}
_AUDITD = {
    "type": "auditd.log.record_type",
    "SYSCALL": "auditd.log.syscall",
    "syscall": "auditd.log.syscall",
    "exe": "process.executable",
    "comm": "process.name",
    "pid": "process.pid",
    "ppid": "process.parent.pid",
    "key": "auditd.log.key",
    "name": "auditd.log.name",
    "nametype": "auditd.log.nametype",
    "euid": "auditd.log.euid",
    "uid": "auditd.log.uid",
    "auid": "auditd.log.auid",
    "unit": "auditd.log.unit",
    "cwd": "process.working_directory",
    "proctitle": "process.title",
    "success": "auditd.log.success",
    **{f"a{i}": f"auditd.log.a{i}" for i in range(10)},
}
_WEB = {
    "c-ip": "source.ip",
    "cs-method": "http.request.method",
    "cs-uri": "url.original",
    "c-uri": "url.original",
    "cs-uri-stem": "url.path",
    "c-uri-stem": "url.path",
    "cs-uri-query": "url.query",
    "c-uri-query": "url.query",
    "c-uri-extension": "url.extension",
    "cs-user-agent": "user_agent.original",
    "c-useragent": "user_agent.original",
    "cs-referer": "http.request.referrer",
    "cs-referrer": "http.request.referrer",
    "cs-username": "user.name",
    "cs-version": "http.version",
    "sc-status": "http.response.status_code",
    "sc-bytes": "http.response.body.bytes",
    "cs-bytes": "http.request.body.bytes",
    "cs-cookie": "http.request.cookie",
    "dst_ip": "destination.ip",
    "src_ip": "source.ip",
}
_PROXY = {**_WEB, "cs-host": "destination.domain", "r-dns": "destination.domain"}
_SERVER = {**_WEB, "cs-host": "url.domain"}
_ZEEK_CONN = {
    "id.orig_h": "source.ip",
    "id.orig_p": "source.port",
    "id.resp_h": "destination.ip",
    "id.resp_p": "destination.port",
    "proto": "network.transport",
    "service": "network.protocol",
    "orig_bytes": "source.bytes",
    "resp_bytes": "destination.bytes",
    "conn_state": "zeek.conn.state",
    "uid": "zeek.session_id",
}
_DNS = {
    **_ZEEK_CONN,
    "query": "dns.question.name",
    "answer": "dns.answers.data",
    "answers": "dns.answers.data",
    "record_type": "dns.question.type",
    "qtype_name": "dns.question.type",
    "rcode_name": "dns.response_code",
    "trans_id": "dns.id",
    "Z": "zeek.dns.Z",
    "rejected": "zeek.dns.rejected",
}
_NET = {
    "DestinationHostname": "destination.domain",
    "DestinationIp": "destination.ip",
    "DestinationPort": "destination.port",
    "SourceIp": "source.ip",
    "SourcePort": "source.port",
    "Initiated": "network.direction",
    "Image": "process.executable",
    "Protocol": "network.transport",
}
_FIREWALL = {
    "src_ip": "source.ip",
    "src_port": "source.port",
    "dst_ip": "destination.ip",
    "dst_port": "destination.port",
    "action": "event.action",
    "blocked": "event.outcome",
    "protocol": "network.transport",
}
_ANTIVIRUS = {"Signature": "rule.name", "Filename": "file.path", "Action": "event.action"}


def _zeek(service: str, extra: Mapping[str, str]) -> Source:
    datasets = (f"zeek.{service}",)
    return Source(datasets, fields={**_ZEEK_CONN, **extra})


def _vendor(dataset: str, *names: str) -> Source:
    return Source((dataset,), fields={n: f"{dataset}.{n}" for n in names})


_AUDITD_LOG = ("auditd.log",)
_EXECVE = And((Term("event.category", "process"), Term("event.type", "start")))

SOURCES: dict[tuple[str | None, str | None, str | None], Source] = {
    # linux: syslog files and auditd
    ("linux", None, None): Source(("system.auth", "system.syslog")),
    ("linux", None, "auth"): Source(("system.auth",)),
    ("linux", None, "sshd"): Source(("system.auth",), Term("process.name", "sshd")),
    ("linux", None, "sudo"): Source(("system.auth",), Term("process.name", "sudo")),
    ("linux", None, "su"): Source(("system.auth",), Term("process.name", "su")),
    ("linux", None, "syslog"): Source(("system.syslog",)),
    ("linux", None, "cron"): Source(
        ("system.syslog", "system.auth"), _terms("process.name", "cron", "crond")
    ),
    ("linux", None, "auditd"): Source(_AUDITD_LOG, fields=_AUDITD),
    ("linux", None, "clamav"): Source(("clamav.log",), fields=_ANTIVIRUS),
    ("linux", None, "vsftpd"): Source(("vsftpd.log",)),
    ("linux", None, "guacamole"): Source(("guacamole.log",)),
    ("linux", "process_creation", None): Source(_AUDITD_LOG, _EXECVE, _PROCESS),
    ("linux", "file_event", None): Source(
        _AUDITD_LOG, Term("event.category", "file"), {**_PROCESS, "TargetFilename": "file.path"}
    ),
    ("linux", "network_connection", None): Source(
        _AUDITD_LOG,
        Term("event.category", "network"),
        _NET,
        {"network.direction": {"true": "egress", "false": "ingress"}},
    ),
    # web servers and proxies
    (None, "webserver", None): Source(("nginx.access", "apache.access"), fields=_SERVER),
    (None, None, "nginx"): Source(("nginx.error",)),
    (None, None, "apache"): Source(("apache.error",)),
    (None, "proxy", None): Source(("squid.access",), fields=_PROXY),
    # network: the sensor, firewalls, Zeek
    (None, "dns", None): Source(("network.dns", "zeek.dns"), fields=_DNS),
    (None, "firewall", None): Source(
        ("iptables.log", "network.firewall"), fields=_FIREWALL, values={"event.outcome": {"true": "failure"}}
    ),
    (None, "network_connection", None): Source(("network.conn", "network.flow", "zeek.conn"), fields=_NET),
    ("zeek", None, "conn"): Source(("network.conn", "network.flow", "zeek.conn"), fields=_ZEEK_CONN),
    ("zeek", None, "dns"): Source(("network.dns", "zeek.dns"), fields=_DNS),
    ("zeek", None, "http"): _zeek(
        "http",
        {
            "host": "url.domain",
            "uri": "url.original",
            "c-uri": "url.original",
            "method": "http.request.method",
            "user_agent": "user_agent.original",
            "c-useragent": "user_agent.original",
            "status_code": "http.response.status_code",
            "resp_mime_types": "http.response.mime_type",
        },
    ),
    ("zeek", None, "smb_files"): _zeek("smb_files", {"name": "file.name", "path": "file.directory"}),
    ("zeek", None, "dce_rpc"): _zeek(
        "dce_rpc", {"endpoint": "zeek.dce_rpc.endpoint", "operation": "zeek.dce_rpc.operation"}
    ),
    ("zeek", None, "x509"): _zeek("x509", {"certificate.serial": "x509.serial_number"}),
    ("zeek", None, "rdp"): _zeek("rdp", {"cookie": "zeek.rdp.cookie"}),
    ("zeek", None, "kerberos"): _zeek(
        "kerberos",
        {
            "request_type": "zeek.kerberos.request_type",
            "cipher": "zeek.kerberos.cipher",
            "service": "zeek.kerberos.service",
        },
    ),
    # the central antivirus
    (None, "antivirus", None): Source(("clamav.log", "antivirus.log"), fields=_ANTIVIRUS),
    # network devices (syslog from routers and firewalls)
    ("cisco", None, "aaa"): Source(("cisco.ios",)),
    ("cisco", None, "bgp"): Source(("cisco.ios",)),
    ("cisco", None, "ldp"): Source(("cisco.ios",)),
    ("huawei", None, "bgp"): Source(("huawei.vrp",)),
    ("juniper", None, "bgp"): Source(("juniper.junos",)),
    ("fortigate", None, "event"): _vendor("fortinet.firewall", "action", "cfgpath"),
}


def source_for(product: str | None, category: str | None, service: str | None) -> Source | None:
    """The source a rule's logsource names: an exact entry, else the same without the product."""
    found = SOURCES.get((product, category, service))
    if found is None and product is not None:
        found = SOURCES.get((None, category, service))
    return found


def known_logsources() -> list[str]:
    return sorted(
        " ".join(f"{k}={v}" for k, v in zip(("product", "category", "service"), key, strict=True) if v)
        for key in SOURCES
    )


def ecs_field(source: Source, name: str) -> str | None:
    """The ECS field for a Sigma field name in this source, or None when it has none."""
    mapped = source.fields.get(name)
    if mapped is not None:
        return mapped
    return name if "." in name or name in ("message", "tags", "labels") else None
