"""`soc-collector enroll`: exchange a one-time enrolment token for this server's collector token.

The exchange goes over TLS with the SOC's certificate verified (system CAs, or `--ca-file` for a
private CA; plain http is refused), and leaves a ready collector.yml (a file source for the auth
log and the soc sink) and the token beside it, both readable by their owner only.
"""

from __future__ import annotations

import os
import socket
import ssl
from pathlib import Path
from typing import Any

import click
import httpx
import yaml

PATH = "/api/v1/enroll"


class EnrolError(Exception):
    pass


def exchange(
    url: str, token: str, *, ca_file: str | None, host: str, timeout: float = 30.0
) -> dict[str, Any]:
    """POST the enrolment token; the collector token and agency, or EnrolError with the SOC's reason."""
    if not url.startswith("https://"):
        raise EnrolError(f"enrolment needs https:// (the token must not travel in clear text): {url}")
    verify = ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()
    try:
        with httpx.Client(verify=verify, timeout=timeout) as client:
            response = client.post(url.rstrip("/") + PATH, json={"token": token, "host": host})
    except httpx.ConnectError as exc:
        raise EnrolError(f"cannot reach {url} over verified TLS: {exc}") from exc
    except httpx.HTTPError as exc:
        raise EnrolError(f"{url}: {exc}") from exc
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code != 200:
        reason = body.get("error") if isinstance(body, dict) else None
        raise EnrolError(
            f"the SOC refused the enrolment ({response.status_code}): {reason or response.text[:200]}"
        )
    if not isinstance(body, dict) or not isinstance(body.get("token"), str):
        raise EnrolError("the SOC's answer has no token")
    return body


def collector_yml(*, url: str, token_file: Path, ca_file: str | None, host: str, data_dir: str) -> str:
    config = {
        "data_dir": data_dir,
        "host": host,
        "heartbeat_seconds": 60,
        "sources": {"auth": {"type": "file", "paths": ["/var/log/auth.log"], "start_at": "beginning"}},
        "transforms": {"logs": {"type": "parse", "inputs": ["auth"], "format": "auto"}},
        "sinks": {
            "soc": {
                "type": "soc",
                "url": url,
                "token_file": str(token_file),
                "ca_file": str(Path(ca_file).resolve()) if ca_file else "",
            }
        },
    }
    header = (
        "# Written by `soc-collector enroll`. Add sources (see deploy/examples/collector.yml), then\n"
        "# `soc-collector validate --config THIS` and `soc-collector run --config THIS`.\n"
    )
    return header + yaml.safe_dump(config, sort_keys=False, allow_unicode=True)


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(path, 0o600)  # an existing file keeps its old mode through O_CREAT


@click.command("enroll")
@click.option("--url", required=True, help="The SOC's URL, https://soc.example.vn")
@click.option("--token", envvar="SOC_ENROL_TOKEN", help="The one-time enrolment token (prefer --token-file).")
@click.option("--token-file", "token_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--ca-file", type=click.Path(exists=True, dir_okay=False), help="CA of the SOC's certificate.")
@click.option("--host", default=socket.gethostname, show_default="this host's name", help="Name to enrol as.")
@click.option(
    "--out-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("/etc/soc-collector"),
    show_default=True, help="Where collector.yml and the token file are written.",
)  # fmt: skip
@click.option(
    "--data-dir", default="/var/lib/soc-collector", show_default=True, help="data_dir in collector.yml."
)
@click.option("--force", is_flag=True, help="Overwrite an existing collector.yml and token.")
def enroll_command(
    url: str, token: str | None, token_path: Path | None, ca_file: str | None, host: str,
    out_dir: Path, data_dir: str, force: bool,
) -> None:  # fmt: skip
    """Exchange a one-time enrolment token for this server's collector token; write collector.yml."""
    raw = token_path.read_text(encoding="utf-8").strip() if token_path else (token or "").strip()
    if not raw:
        raise click.ClickException("no enrolment token: give --token or --token-file")
    config_path, token_file = out_dir / "collector.yml", out_dir / "token"
    existing = [str(p) for p in (config_path, token_file) if p.exists()]
    if existing and not force:
        raise click.ClickException(f"{', '.join(existing)} already exist; use --force to replace them")
    try:
        answer = exchange(url, raw, ca_file=ca_file, host=host)
    except EnrolError as exc:
        raise click.ClickException(str(exc)) from exc
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_private(token_file, answer["token"] + "\n")
    text = collector_yml(
        url=url, token_file=token_file.resolve(), ca_file=ca_file, host=host, data_dir=data_dir
    )
    _write_private(config_path, text)
    click.echo(
        f"Enrolled as {answer.get('name')} for agency {answer.get('agency')} "
        f"(collector {answer.get('token_id')}).\n"
        f"Wrote {config_path} and {token_file} (mode 0600). Next: "
        f"soc-collector validate --config {config_path}"
    )
