"""No input makes a parser raise: random text, and real lines with random damage."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.parsers import FORMATS, parse_lines

SEEDS = [
    b"Feb 21 21:54:44 localhost sshd[3402]: Accepted publickey for vagrant from 10.0.2.2 port 63673 ssh2",
    b'<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 [ex@1 a="b\\"]"] \'su root\' failed',
    b"Feb 24 00:13:02 precise32 sudo:   tsg : user NOT in sudoers ; TTY=pts/1 ; USER=root ; COMMAND=/bin/ls",
    b'"10.5.102.222, 199.96.1.1" 10.2.1.185 - - [22/Jan/2016:13:18:29 +0000] "GET /a?q=1 HTTP/1.1" 200 2 "-"',
    b'2016/10/25 14:49:34 [error] 54053#0: *1 open() failed, client: 127.0.0.1, request: "GET / HTTP/1.1"',
    b"[Wed Oct 11 14:32:52.123 2000] [core:error] [pid 35708:tid 43] [client ::1:80] File does not exist",
    b'type=EXECVE msg=audit(1364481363.243:24287): argc=2 a0="ls" a1=2F746D70',
    b"type=USER_AUTH msg=audit(1.0:1): pid=1 uid=0 msg='op=PAM acct=\"root\" addr=1.2.3.4 res=failed'",
    b"Tue Jan 14 10:00:00 2020 -> /srv/x.exe: Win.Test.EICAR_HDB-1 FOUND",
    b'{"@timestamp": "2020-01-01T00:00:00Z", "source.ip": "1.2.3.4", "event": {"dataset": "x"}}',
    b"Feb 22 11:47:05 localhost useradd[6995]: new user: name=apache, UID=48, GID=48, home=/x, shell=/y",
]


def check(line: bytes, fmt: str) -> None:
    [event] = parse_lines([line], fmt=fmt, timezone="UTC")
    assert event["event"]["original"] is not None
    assert "@timestamp" in event
    # parse_lines catches a parser's exception to keep the line; here no parser may have raised
    assert "_parser_error" not in event.get("tags", []), event["error"]["message"]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(FORMATS))
def test_it_survives_random_bytes(line: bytes, fmt: str) -> None:
    check(line, fmt)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200), st.sampled_from(FORMATS))
def test_it_survives_random_text(text: str, fmt: str) -> None:
    check(text.encode("utf-8", "surrogatepass"), fmt)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    line = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(line)))
        action = draw(st.sampled_from(["insert", "delete", "replace", "cut"]))
        chunk = draw(st.binary(min_size=1, max_size=8))
        if action == "insert":
            line[at:at] = chunk
        elif action == "delete":
            del line[at : at + len(chunk)]
        elif action == "replace":
            line[at : at + len(chunk)] = chunk
        else:
            del line[at:]
    return bytes(line)


@settings(max_examples=1500, deadline=None)
@given(mutated(), st.sampled_from(FORMATS))
def test_it_survives_mutated_real_lines(line: bytes, fmt: str) -> None:
    check(line, fmt)


@pytest.mark.parametrize(
    "line",
    [
        # found by the test above: digits `int` refuses, and an argc no record could hold
        b'type=EXECVE msg=audit(1364481363.243:24287): argc=\x002 a0="ls" a1=2F746D70',
        'type=EXECVE msg=audit(1.0:1): argc=\u00b2 a0="ls"'.encode(),
        'type=SYSCALL msg=audit(1.0:1): pid=\u00b2 ppid=\u0664 comm="x"'.encode(),
        b'type=EXECVE msg=audit(1.0:1): argc=999999999999 a0="ls"',
    ],
)
def test_auditd_takes_only_ascii_numbers(line: bytes) -> None:
    check(line, "auditd")
