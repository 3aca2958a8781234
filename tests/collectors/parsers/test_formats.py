"""One behaviour per format: the ECS fields each parser sets, and the fallbacks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from collectors.parsers import parse_lines
from collectors.parsers.base import Context


def one(line: bytes | str, fmt: str = "auto", **kw: Any) -> dict[str, Any]:
    raw = line.encode() if isinstance(line, str) else line
    [ev] = parse_lines([raw], fmt=fmt, **{"timezone": "UTC", **kw})
    return ev


def test_it_infers_the_year_so_that_no_date_lies_in_the_future() -> None:
    ctx = Context(timezone="UTC", now=datetime(2027, 1, 2, tzinfo=UTC))
    assert ctx.year_for(12, 31) == 2026
    assert ctx.year_for(1, 2) == 2027


def test_it_moves_to_the_next_year_when_a_file_crosses_new_year() -> None:
    lines = [b"Dec 31 23:59:59 h app: a\n", b"Jan  1 00:00:01 h app: b\n"]
    stamps = [ev["@timestamp"] for ev in parse_lines(lines, timezone="UTC", year=2026)]
    assert stamps == ["2026-12-31T23:59:59.000Z", "2027-01-01T00:00:01.000Z"]


def test_it_reads_year_less_times_in_the_configured_zone_and_records_it() -> None:
    ev = one("Nov 27 09:00:00 web1 app: hello", timezone="Asia/Ho_Chi_Minh", year=2026)
    assert ev["@timestamp"] == "2026-11-27T02:00:00.000Z"
    assert ev["event"]["timezone"] == "Asia/Ho_Chi_Minh"


def test_it_parses_rfc5424_with_structured_data_and_fractional_offset_time() -> None:
    ev = one('<34>1 2003-10-11T22:14:15.003+07:00 mymachine su 77 ID47 [ex@1 a="b\\"c" d="e"] hi there')
    assert ev["@timestamp"] == "2003-10-11T15:14:15.003Z"
    assert ev["host"]["hostname"] == "mymachine"
    assert ev["process"] == {"name": "su", "pid": 77}
    assert ev["log"]["syslog"]["structured_data"] == {"ex@1": {"a": 'b"c', "d": "e"}}
    assert ev["log"]["syslog"]["severity"]["code"] == 2
    assert ev["message"] == "hi there"


def test_it_parses_rfc5424_nil_values() -> None:
    ev = one("<13>1 2020-01-01T00:00:00Z - - - - - just text")
    assert ev["message"] == "just text"
    assert "host" not in ev
    assert "error" not in ev


def test_it_maps_sudo_to_who_as_whom_and_command() -> None:
    ev = one("Feb 21 23:35:33 h sudo: vagrant : TTY=pts/0 ; PWD=/v ; USER=root ; COMMAND=/bin/cat /etc/x")
    assert ev["user"]["name"] == "vagrant"
    assert ev["user"]["effective"]["name"] == "root"
    assert ev["process"]["command_line"] == "/bin/cat /etc/x"
    assert ev["event"]["outcome"] == "success"


@pytest.mark.parametrize(
    ("message", "outcome"),
    [("Successful su for root by alice", "success"), ("FAILED su for root by alice", "failure"),
     ("- pts/1 alice:root", "failure"), ("(to root) alice on pts/1", "success")],
)  # fmt: skip
def test_it_maps_su_attempts(message: str, outcome: str) -> None:
    ev = one(f"Feb 21 23:35:33 h su[1]: {message}")
    assert (ev["user"]["name"], ev["user"]["effective"]["name"]) == ("alice", "root")
    assert ev["event"]["outcome"] == outcome
    assert ev["event"]["dataset"] == "system.auth"


@pytest.mark.parametrize(
    ("line", "action", "user", "group"),
    [("usermod[1]: add 'bob' to group 'sudo'", "user_added_to_group", "bob", "sudo"),
     ("userdel[1]: delete user 'bob'", "user_deleted", "bob", None),
     ("groupadd[1]: new group: name=ops, GID=1001", "group_created", None, "ops"),
     ("passwd[1]: pam_unix(passwd:chauthtok): password changed for bob", "password_changed", "bob", None)],
)  # fmt: skip
def test_it_maps_account_changes_to_iam_events(
    line: str, action: str, user: str | None, group: str | None
) -> None:
    ev = one(f"Feb 22 11:47:05 h {line}")
    assert ev["event"]["action"] == action
    assert ev["event"]["category"] == ["iam"]
    assert ev.get("user", {}).get("name") == user
    assert ev.get("group", {}).get("name") == group


def test_it_maps_cron_commands() -> None:
    ev = one("Feb 22 11:47:05 h CRON[42]: (root) CMD (cd / && run-parts --report /etc/cron.hourly)")
    assert ev["event"]["action"] == "cron_command"
    assert ev["user"]["name"] == "root"
    assert ev["process"]["command_line"] == "cd / && run-parts --report /etc/cron.hourly"


def test_it_maps_auditd_execve_with_hex_arguments() -> None:
    ev = one('type=EXECVE msg=audit(1364481363.243:24287): argc=3 a0="ls" a1="-l" a2=2F746D702F612062')
    assert ev["event"]["dataset"] == "auditd.log"
    assert ev["process"]["args"] == ["ls", "-l", "/tmp/a b"]
    assert ev["process"]["command_line"] == "ls -l /tmp/a b"
    assert ev["auditd"]["log"]["sequence"] == 24287
    assert ev["@timestamp"] == "2013-03-28T14:36:03.243Z"


def test_it_maps_auditd_user_auth_failures() -> None:
    ev = one("type=USER_AUTH msg=audit(1.5:9): pid=3 uid=0 auid=4294967295 ses=4294967295 "
             "msg='op=PAM:authentication grantors=? acct=\"root\" exe=\"/usr/sbin/sshd\" hostname=1.2.3.4 "
             "addr=1.2.3.4 terminal=ssh res=failed'")  # fmt: skip
    assert ev["event"]["category"] == ["authentication"]
    assert ev["event"]["outcome"] == "failure"
    assert (ev["user"]["name"], ev["source"]["ip"]) == ("root", "1.2.3.4")
    assert "audit" not in ev["user"]  # 4294967295 means unset


def test_it_maps_clamav_detections_to_malware_alerts() -> None:
    ev = one("Tue Jan 14 10:00:00 2020 -> /srv/up/x.exe: Win.Test.EICAR_HDB-1 FOUND")
    assert ev["event"]["dataset"] == "clamav.log"
    assert (ev["event"]["kind"], ev["event"]["category"]) == ("alert", ["malware"])
    assert ev["file"]["path"] == "/srv/up/x.exe"
    assert ev["rule"]["name"] == "Win.Test.EICAR_HDB-1"
    via_syslog = one("Jan 14 10:00:00 av clamd[812]: /srv/y.doc: Doc.Dropper FOUND", year=2020)
    assert via_syslog["event"]["dataset"] == "clamav.log"
    assert via_syslog["file"]["name"] == "y.doc"


def test_it_maps_nginx_errors_with_client_and_request() -> None:
    ev = one('2016/10/25 14:49:34 [error] 54053#0: *1 open() "/x" failed (2: No such file), client: '
             '127.0.0.1, server: localhost, request: "GET /favicon.ico HTTP/1.1", host: "x"')  # fmt: skip
    assert ev["event"]["dataset"] == "nginx.error"
    assert (ev["log"]["level"], ev["source"]["ip"]) == ("error", "127.0.0.1")
    assert ev["url"]["original"] == "/favicon.ico"


def test_it_splits_url_path_and_query() -> None:
    ev = one('1.2.3.4 - bob [07/Dec/2016:11:05:07 +0100] "GET /a/b?x=1&y=2 HTTP/1.1" 200 5 "-" "curl"')
    assert ev["url"] == {"original": "/a/b?x=1&y=2", "path": "/a/b", "query": "x=1&y=2"}
    assert ev["user"]["name"] == "bob"


def test_it_keeps_ecs_json_lines_and_expands_dotted_keys() -> None:
    ev = one('{"@timestamp": "2020-01-01T07:00:00+07:00", "source.ip": "1.2.3.4", "event": {"dataset": "a"}}')
    assert ev["@timestamp"] == "2020-01-01T00:00:00.000Z"
    assert ev["source"]["ip"] == "1.2.3.4"
    assert ev["event"]["dataset"] == "a"
    assert ev["event"]["original"].startswith('{"@timestamp"')


def test_it_keeps_a_line_nobody_understands_as_a_generic_event() -> None:
    ev = one("!!! what is this", path="/var/log/x.log", host="web1")
    assert ev["event"]["dataset"] == "soc.unparsed"
    assert ev["error"]["message"]
    assert ev["tags"] == ["_unparsed"]
    assert ev["message"] == ev["event"]["original"] == "!!! what is this"
    assert (ev["log"]["file"]["path"], ev["host"]["name"]) == ("/var/log/x.log", "web1")


def test_it_flags_invalid_utf8_and_keeps_the_rest() -> None:
    ev = one(b"Feb 22 11:47:05 h app: caf\xe9 ok")
    assert ev["log"]["flags"] == ["invalid_utf8"]
    assert ev["message"] == "caf\ufffd ok"


def test_it_counts_byte_offsets_of_each_line() -> None:
    lines = [b"a\n", "é\n".encode(), b"x\r\n", b"last"]
    assert [ev["log"]["offset"] for ev in parse_lines(lines)] == [0, 2, 5, 8]


def test_it_refuses_an_unknown_format_name() -> None:
    with pytest.raises(ValueError, match="unknown format 'nope'"):
        list(parse_lines([b"x"], fmt="nope"))
