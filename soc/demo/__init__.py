"""`soc demo`: the whole service on the embedded default, fed by a real collector.

Runs the real service (uvicorn + FastAPI) on SQLite in a data directory, creates an admin and a
demo agency, issues a collector token, and ships the bundled attack scenario with a real
`soc-collector` pipeline (soc.demo.collector) to `POST /api/v1/ingest`, exactly as an agency server
would; then runs detection, delivers the alert e-mails and reports the dossiers.
"""

from __future__ import annotations

import dataclasses
import secrets
import socket
import threading
import time
from pathlib import Path

import click
import uvicorn
from sqlalchemy import Engine, func, select

from soc.db import accounts, migrate, tokens
from soc.db.detection import Alert
from soc.db.models import utcnow
from soc.db.session import make_engine, session_scope
from soc.demo.collector import DemoCollector
from soc.detect.service import detector_for
from soc.dossiers import report
from soc.dossiers.demo import seed_demo
from soc.dossiers.service import DossierService
from soc.errors import SocError
from soc.i18n import t
from soc.notify import demo as notify_demo
from soc.settings import Settings
from soc.web.app import create_app

AGENCY_CODE = "stttt-demo"
AGENCY_NAME = "Sở Thông tin và Truyền thông TP. Cần Thơ (demo)"
ADMIN = "admin"
DEMO_USERS: list[tuple[str, str, list[tuple[str, str | None]]]] = [
    ("analyst", "Chuyên viên phân tích SOC (demo)", [("soc_analyst", None)]),
    ("officer", "Cán bộ Sở TT&TT (demo)", [("agency_officer", AGENCY_CODE)]),
]


def run(settings: Settings, *, data_dir: Path | None, port: int, serve_forever: bool) -> None:
    data_dir = (data_dir or settings.data_dir / "demo").resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = dataclasses.replace(
        settings,
        data_dir=data_dir,
        store="sqlite",
        store_path="",
        database_url="",
        secret_key=settings.secret_key or _secret(data_dir),
    )
    lang = settings.lang
    migrate.upgrade(settings.resolved_database_url)
    db = make_engine(settings.resolved_database_url)
    password = secrets.token_urlsafe(12)
    with session_scope(db) as session:
        agency = accounts.get_agency_by_code(session, AGENCY_CODE) or accounts.add_agency(
            session, AGENCY_CODE, AGENCY_NAME, actor="soc demo"
        )
        if accounts.get_user(session, ADMIN) is None:
            accounts.add_user(
                session,
                username=ADMIN,
                password=password,
                email="admin@soc.example.vn",
                full_name="Quản trị SOC (demo)",
                locale=lang,
                roles=[("admin", None)],
                actor="soc demo",
            )
        else:
            accounts.set_password(session, ADMIN, password, actor="soc demo")
        for username, full_name, roles in DEMO_USERS:
            if accounts.get_user(session, username) is None:
                accounts.add_user(
                    session, username=username, password=password, email=f"{username}@soc.example.vn",
                    full_name=full_name, locale=lang, roles=roles, actor="soc demo",
                )  # fmt: skip
            else:
                accounts.set_password(session, username, password, actor="soc demo")
        token, _ = tokens.create(
            session, name="demo collector", kind="collector", agency_id=agency.id, actor="soc demo"
        )
    dossiers = DossierService.from_settings(settings)
    with session_scope(db) as session:
        seed_demo(session, utcnow(), dossiers, password=password)
        headline = report.status(session, dossiers, utcnow()).headline(lang)

    app = create_app(settings, db=db)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port or _free_port(), log_level="warning")
    )
    thread = threading.Thread(target=server.run, name="soc-demo-server", daemon=True)
    thread.start()
    url = _wait_started(server, thread)
    collector: DemoCollector | None = None
    try:
        collector = DemoCollector(data_dir / "collector", url, token)
        totals = collector.ship()
        click.echo(
            t(
                "demo.shipped",
                lang,
                lines=totals.lines,
                file=collector.log.name,
                created=totals.created,
                duplicates=totals.duplicates,
                rejected=totals.rejected,
                unparsed=totals.unparsed,
            )
        )
        for problem in totals.problems:
            click.echo(f"  {collector.log.name}:{problem}")
        click.echo(f"  {t('demo.collector', lang)}: soc-collector run --config {collector.config_path}")
        detector = detector_for(settings, app.state.store, db)
        reports = detector.run_all()
        raised = sum(r.alerts for r in reports)
        click.echo(t("demo.detected", lang, rules=len(reports), alerts=raised))
        for title, level, n in _alert_summary(db):
            click.echo(f"  [{level.upper()}] {title}: {n}")
        mail = notify_demo.deliver(settings, db, url, ADMIN, keep_running=serve_forever)
        click.echo(t("demo.mail", lang, n=len(mail.sink.messages), dir=mail.directory))
        if mail.ack_link:
            click.echo(f"  {t('demo.ack', lang)}: {mail.ack_link}")
        click.echo(f"{t('demo.dossiers', lang)}: {headline}")
        click.echo("")
        click.echo(t("demo.ready", lang))
        click.echo(f"  {t('demo.url', lang)}: {url}/alerts?lang={lang}")
        click.echo(f"  {t('demo.login', lang)}: {ADMIN} / {t('demo.password', lang)}: {password}")
        click.echo(f"  {t('demo.others', lang, users=', '.join(u for u, _, _ in DEMO_USERS))}")
        click.echo(f"  {t('demo.data', lang)}: {data_dir}")
        if serve_forever:
            jobs = detector.schedule()
            click.echo(t("demo.tailing", lang, log=collector.log))
            click.echo(t("demo.stop", lang))
            try:
                while thread.is_alive():
                    thread.join(0.5)
            finally:
                jobs.stop()
                mail.stop()
    except KeyboardInterrupt:
        pass
    finally:
        if collector is not None:
            collector.stop()
        server.should_exit = True
        thread.join(10)
        app.state.store.close()
        db.dispose()
    if serve_forever:
        click.echo(t("demo.stopped", lang))


def _alert_summary(db: Engine) -> list[tuple[str, str, int]]:
    with session_scope(db) as session:
        rows = session.execute(
            select(Alert.rule_title, Alert.level, func.count())
            .group_by(Alert.rule_title, Alert.level)
            .order_by(func.count().desc(), Alert.rule_title)
        )
        return [(title, level, int(n)) for title, level, n in rows]


def _secret(data_dir: Path) -> str:
    """A signing key kept in the data directory (mode 0600), so demo restarts keep sessions valid."""
    path = data_dir / "secret_key"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(48), encoding="utf-8")
    return path.read_text(encoding="utf-8").strip()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_started(server: uvicorn.Server, thread: threading.Thread) -> str:
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise SocError("the demo web service did not start (is the port already in use?)")
        time.sleep(0.05)
    host, port = server.servers[0].sockets[0].getsockname()[:2]
    return f"http://{host}:{port}"
