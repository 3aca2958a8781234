"""Alerts: the list (grouped by rule / agency / host, filters, keyset pages), bulk actions, the
detail page (evidence, history, comments, triage forms) and “suppress similar” — pages and the
JSON API. Thin: every rule and every agency check lives in soc.triage."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from soc.alerts.writer import ALERT_FIELDS
from soc.db.detection import Alert
from soc.db.models import Agency, utcnow
from soc.db.session import session_scope
from soc.triage import alert_query as aq
from soc.triage import alerts as triage
from soc.triage import suppress
from soc.triage.principal import Conflict, Invalid, Principal
from soc.web.ack import notify_service
from soc.web.auth import reader, writer
from soc.web.render import page, zone_of

router = APIRouter()
Reader = Annotated[Principal, Depends(reader("alerts.read"))]
Triager = Annotated[Principal, Depends(writer("alerts.triage"))]
Commenter = Annotated[Principal, Depends(writer("alerts.comment"))]
Suppressor = Annotated[Principal, Depends(writer("alerts.suppress"))]
Action = Literal["acknowledge", "start", "close", "reopen", "assign"]
Resolution = Literal["true_positive", "false_positive", "benign", "duplicate", "other"]
GroupBy = Literal["rule", "agency", "host"]
FILTER_KEYS = (
    "status", "level", "severity", "agency", "rule", "since", "from", "until", "to", "assignee", "q", "group",
    "host",
)  # fmt: skip


async def form_data(request: Request) -> FormData:
    return await request.form()


Form = Annotated[FormData, Depends(form_data)]


def _params(request: Request) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        if key in FILTER_KEYS:
            out.setdefault(key, []).append(value)
    return out


def _filter(request: Request) -> aq.AlertFilter:
    return aq.parse_filter(_params(request), zone=zone_of(request))


def _db(request: Request) -> Any:
    return request.app.state.db


def _agencies(session: Session, principal: Principal) -> list[tuple[str, str]]:
    rows = session.execute(select(Agency.code, Agency.name).order_by(Agency.name))
    return [(code, name) for code, name in rows if principal.sees(code)]


def _qs(pairs: list[tuple[str, str]], **extra: str | None) -> str:
    return urlencode(pairs + [(k, v) for k, v in extra.items() if v is not None])


# ---------------------------------------------------------------- list


@router.get("/alerts", response_class=HTMLResponse, include_in_schema=False)
def list_page(
    request: Request,
    principal: Reader,
    sort: str = "newest",
    cursor: str | None = None,
    view: Literal["grouped", "flat"] = "grouped",
    by: GroupBy = "rule",
    done: int | None = None,
    skipped: int | None = None,
) -> HTMLResponse:
    f = _filter(request)
    with session_scope(_db(request)) as session:
        groups = aq.grouped(session, principal, f, by) if view == "grouped" else []
        result = aq.page(session, principal, f, sort=sort, cursor=cursor)
        total = (
            sum(g.count for g in groups)
            if view == "grouped" and len(groups) < 200
            else aq.count(session, principal, f)
        )
        agencies = _agencies(session, principal)
        users = triage.assignable(session) if principal.can("alerts.triage") else []
        context: dict[str, Any] = {
            "f": f, "groups": groups, "alerts": result.alerts, "next_cursor": result.next_cursor,
            "total": total, "sort": sort, "view": view, "by": by, "cursor": cursor,
            "agencies": agencies, "agency_names": dict(agencies), "users": users,
            "filter_qs": _qs(aq.as_params(f)), "params": aq.as_params(f),
            "versions": {a.id: triage.version_of(a) for a in result.alerts},
            "done": done, "skipped": skipped, "local": _local_input,
            "levels": aq.LEVELS, "statuses": aq.STATUSES, "sorts": aq.SORTS,
            "resolutions": triage.RESOLUTIONS, "qs": _qs,
        }  # fmt: skip
        return page(request, "pages/alerts_list.html", **context)


def _local_input(at: datetime | None, request: Request) -> str:
    return at.astimezone(zone_of(request)).strftime("%Y-%m-%dT%H:%M") if at else ""


class AlertOut(BaseModel):
    id: str
    rule_id: str
    rule_title: str
    rule_version: str
    level: str
    tags: list[str]
    agency: str | None
    host: str | None
    user_name: str | None
    source_ip: str | None
    first_at: datetime
    last_at: datetime
    count: int
    created_at: datetime
    status: str
    assignee: str | None
    resolution: str | None
    acknowledged_at: datetime | None
    in_progress_at: datetime | None
    closed_at: datetime | None
    incident_id: int | None
    suppression_id: int | None
    version: str
    """Send back as `version` / `versions` to refuse a change if someone else changed the alert."""


class AlertPage(BaseModel):
    items: list[AlertOut]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")


class GroupOut(BaseModel):
    key: str | None
    label: str
    count: int
    events: int
    level: str
    last_at: datetime


STATUS_HELP = "new, acknowledged, in_progress, closed, suppressed, merged, open (default) or all"
StatusQ = Annotated[list[str], Query(description=STATUS_HELP)]
ListQ = Annotated[list[str], Query()]


@router.get("/api/v1/alerts", tags=["alerts"], response_model=AlertPage)
def list_api(
    request: Request,
    principal: Reader,
    status: StatusQ = [],  # noqa: B006 - FastAPI copies defaults
    level: ListQ = [],  # noqa: B006
    agency: ListQ = [],  # noqa: B006
    rule: str | None = None,
    since: Annotated[str | None, Query(description="first event at or after; local time or ISO 8601")] = None,
    until: Annotated[str | None, Query(description="first event before; local time or ISO 8601")] = None,
    assignee: Annotated[str | None, Query(description="a user name, `unassigned` or `me`")] = None,
    q: Annotated[str | None, Query(description="rule title, host, user, source IP or alert id")] = None,
    group: Annotated[str | None, Query(description="notification group id (ALR-…)")] = None,
    host: str | None = None,
    sort: Literal["newest", "oldest", "severity", "count"] = "newest",
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=aq.MAX_PAGE_SIZE)] = aq.PAGE_SIZE,
) -> dict[str, Any]:
    """Alerts of the caller's agencies, filtered, one keyset page at a time."""
    f = _filter(request)
    with session_scope(_db(request)) as session:
        result = aq.page(session, principal, f, sort=sort, cursor=cursor, size=limit)
        return {"items": [triage.as_json(a) for a in result.alerts], "next_cursor": result.next_cursor}


@router.get("/api/v1/alerts/groups", tags=["alerts"], response_model=list[GroupOut])
def groups_api(
    request: Request,
    principal: Reader,
    by: GroupBy = "rule",
    status: StatusQ = [],  # noqa: B006
    level: ListQ = [],  # noqa: B006
    agency: ListQ = [],  # noqa: B006
    rule: str | None = None,
    since: str | None = None,
    until: str | None = None,
    assignee: str | None = None,
    q: str | None = None,
    group: str | None = None,
    host: str | None = None,
) -> list[dict[str, Any]]:
    """Counts of the filtered alerts per rule, agency or host, biggest first."""
    f = _filter(request)
    with session_scope(_db(request)) as session:
        return [g.__dict__ for g in aq.grouped(session, principal, f, by)]


# ---------------------------------------------------------------- bulk


class MatchSpec(BaseModel):
    filter: dict[str, str | list[str]] = Field(default_factory=dict, description="list filters, as for GET")
    by: GroupBy | None = None
    key: str | None = Field(None, description="the group's key (rule id, agency code or host)")


class BulkIn(BaseModel):
    action: Action
    alert_ids: list[str] = Field(default_factory=list)
    versions: dict[str, str] = Field(default_factory=dict, description="alert id → version as read")
    match: MatchSpec | None = Field(
        None, description="instead of ids: every alert of this filter (and group)"
    )
    assignee: str | None = None
    resolution: Resolution | None = None
    reason: str | None = None


class BulkOut(BaseModel):
    changed: list[str]
    skipped: dict[str, str]


def _matching(session: Session, principal: Principal, spec: MatchSpec, request: Request) -> list[str]:
    f = aq.parse_filter(dict(spec.filter), zone=zone_of(request))
    if spec.by:
        f = f.for_group(spec.by, spec.key)
    ids = aq.all_ids(session, principal, f, triage.MAX_BULK)
    if len(ids) > triage.MAX_BULK:
        raise Invalid(f"more than {triage.MAX_BULK} alerts match; narrow the filters")
    if not ids:
        raise Invalid("no alert matches")
    return ids


@router.post("/api/v1/alerts/bulk", tags=["alerts"], response_model=BulkOut)
def bulk_api(request: Request, principal: Triager, body: BulkIn) -> dict[str, Any]:
    """Acknowledge, start, assign, close (resolution + reason) or reopen (reason) many alerts, all or
    nothing: an id you cannot see, or a version that moved (409), changes nothing."""
    with session_scope(_db(request)) as session:
        ids = _matching(session, principal, body.match, request) if body.match else body.alert_ids
        outcome = triage.apply(
            session, principal, ids, body.action, assignee=body.assignee, resolution=body.resolution,
            reason=body.reason, versions=body.versions, notify=notify_service(request),
        )  # fmt: skip
        return {"changed": outcome.changed, "skipped": outcome.skipped}


def _back(target: str | None) -> str:
    return target if target and target.startswith("/alerts") and "\\" not in target else "/alerts"


@router.post("/alerts/bulk", include_in_schema=False)
def bulk_form(request: Request, principal: Triager, form: Form) -> Response:
    action = str(form.get("action") or "")
    back = _back(str(form.get("next") or ""))
    with session_scope(_db(request)) as session:
        if form.get("by"):
            spec = MatchSpec(
                filter={k: v for k, v in parse_qs(str(form.get("filter") or "")).items()},
                by=str(form.get("by")) if form.get("by") in ("rule", "agency", "host") else None,  # type: ignore[arg-type]
                key=str(form.get("key")) if form.get("key") is not None else None,
            )
            ids = _matching(session, principal, spec, request)
            versions: dict[str, str] = {}
        else:
            ids = [str(v) for v in form.getlist("alert_ids")]
            versions = {i: str(form.get(f"version.{i}")) for i in ids if form.get(f"version.{i}")}
        outcome = triage.apply(
            session, principal, ids, action, assignee=_str(form, "assignee"),
            resolution=_str(form, "resolution"), reason=_str(form, "reason"), versions=versions,
            notify=notify_service(request),
        )  # fmt: skip
    sep = "&" if "?" in back else "?"
    target = f"{back}{sep}{urlencode({'done': len(outcome.changed), 'skipped': len(outcome.skipped)})}"
    return RedirectResponse(target, status_code=303)


def _str(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) and value != "" else None


@router.get("/alerts/bulk", response_class=HTMLResponse, include_in_schema=False)
def group_bulk_page(request: Request, principal: Reader, by: GroupBy, key: str = "") -> HTMLResponse:
    """Confirm an action on every alert of one grouped row (with the list's filters)."""
    principal.require("alerts.triage")
    f = _filter(request).for_group(by, key)
    with session_scope(_db(request)) as session:
        n = aq.count(session, principal, f)
        base = _filter(request)
        context: dict[str, Any] = {
            "by": by, "key": key, "n": n, "filter_qs": _qs(aq.as_params(base)),
            "users": triage.assignable(session), "resolutions": triage.RESOLUTIONS,
            "list_url": "/alerts?" + _qs(aq.as_params(f), view="flat"),
        }  # fmt: skip
        return page(request, "pages/alerts_bulk.html", **context)


# ---------------------------------------------------------------- detail


def _detail_context(
    session: Session, request: Request, principal: Principal, alert_id: str
) -> dict[str, Any]:
    d = triage.detail(session, principal, alert_id)
    evidence, reachable = triage.evidence(request.app.state.store, principal, d.alert)
    return {
        "d": d, "a": d.alert, "evidence": evidence, "store_ok": reachable, "flatten": triage.flatten,
        "version": triage.version_of(d.alert), "resolutions": triage.RESOLUTIONS,
        "users": triage.assignable(session, d.alert.agency) if principal.can("alerts.triage") else [],
        "next_status": triage.NEXT.get(d.alert.status, ()),
    }  # fmt: skip


@router.get("/alerts/{alert_id}", response_class=HTMLResponse, include_in_schema=False)
def detail_page(request: Request, principal: Reader, alert_id: str) -> HTMLResponse:
    with session_scope(_db(request)) as session:
        return page(
            request, "pages/alerts_detail.html", **_detail_context(session, request, principal, alert_id)
        )


class TransitionOut(BaseModel):
    at: datetime
    actor: str
    field: str
    from_value: str | None
    to_value: str | None
    reason: str | None


class CommentOut(BaseModel):
    id: int
    at: datetime
    author: str
    body: str


class EvidenceOut(BaseModel):
    index: str
    id: str
    original: str | None
    event: dict[str, Any] | None = Field(description="the full event from the store; null once it is gone")


class AlertDetailOut(AlertOut):
    window_start: datetime
    window_end: datetime
    group_key: dict[str, Any]
    events: list[EvidenceOut]
    store_reachable: bool
    transitions: list[TransitionOut]
    comments: list[CommentOut]
    groups: list[str] = Field(description="notification groups (ALR-…) the alert was counted in")


@router.get("/api/v1/alerts/{alert_id}", tags=["alerts"], response_model=AlertDetailOut)
def detail_api(request: Request, principal: Reader, alert_id: str) -> dict[str, Any]:
    """One alert with its matched events, history (who, when, from → to, why) and comments."""
    with session_scope(_db(request)) as session:
        d = triage.detail(session, principal, alert_id)
        evidence, reachable = triage.evidence(request.app.state.store, principal, d.alert)
        a = d.alert
        return triage.as_json(a) | {
            "window_start": a.window_start, "window_end": a.window_end, "group_key": a.group_key or {},
            "events": [e.__dict__ for e in evidence], "store_reachable": reachable,
            "transitions": [_cols(t, TransitionOut) for t in d.transitions],
            "comments": [_cols(c, CommentOut) for c in d.comments],
            "groups": [g.public_id for g in d.groups],
        }  # fmt: skip


def _cols(row: Any, model: type[BaseModel]) -> dict[str, Any]:
    return {name: getattr(row, name) for name in model.model_fields}


class ActionIn(BaseModel):
    action: Action
    version: str | None = Field(None, description="the alert's version as read; a stale one gets 409")
    assignee: str | None = None
    resolution: Resolution | None = None
    reason: str | None = None


@router.post("/api/v1/alerts/{alert_id}/actions", tags=["alerts"], response_model=AlertOut)
def action_api(request: Request, principal: Triager, alert_id: str, body: ActionIn) -> dict[str, Any]:
    """Change one alert (status, assignee, resolution). A move the flow does not allow is a 400."""
    with session_scope(_db(request)) as session:
        versions = {alert_id: body.version} if body.version else {}
        triage.apply(
            session, principal, [alert_id], body.action, assignee=body.assignee, resolution=body.resolution,
            reason=body.reason, versions=versions, strict=True, notify=notify_service(request),
        )  # fmt: skip
        return triage.as_json(triage.get(session, principal, alert_id))


def _detail_form(
    request: Request, principal: Principal, alert_id: str, form: FormData, action: str
) -> Response:
    try:
        with session_scope(_db(request)) as session:
            version = _str(form, "version")
            triage.apply(
                session, principal, [alert_id], action, assignee=_str(form, "assignee"),
                resolution=_str(form, "resolution"), reason=_str(form, "reason"),
                versions={alert_id: version} if version else {}, strict=True,
                notify=notify_service(request),
            )  # fmt: skip
    except (Invalid, Conflict) as exc:
        status = 409 if isinstance(exc, Conflict) else 400
        with session_scope(_db(request)) as session:
            context = _detail_context(session, request, principal, alert_id)
            return page(request, "pages/alerts_detail.html", status, error=str(exc), **context)
    return RedirectResponse(f"/alerts/{alert_id}", status_code=303)


@router.post("/alerts/{alert_id}/status", include_in_schema=False)
def status_form(request: Request, principal: Triager, alert_id: str, form: Form) -> Response:
    action = str(form.get("action") or "")
    if action not in ("acknowledge", "start", "close", "reopen"):
        action = "invalid"
    return _detail_form(request, principal, alert_id, form, action)


@router.post("/alerts/{alert_id}/assign", include_in_schema=False)
def assign_form(request: Request, principal: Triager, alert_id: str, form: Form) -> Response:
    return _detail_form(request, principal, alert_id, form, "assign")


class CommentIn(BaseModel):
    body: str = Field(min_length=1, max_length=triage.MAX_COMMENT)


@router.post("/alerts/{alert_id}/comments", include_in_schema=False)
def comment_form(request: Request, principal: Commenter, alert_id: str, form: Form) -> Response:
    try:
        with session_scope(_db(request)) as session:
            triage.comment(session, principal, alert_id, _str(form, "body") or "")
    except Invalid as exc:
        with session_scope(_db(request)) as session:
            context = _detail_context(session, request, principal, alert_id)
            return page(request, "pages/alerts_detail.html", 400, error=str(exc), **context)
    return RedirectResponse(f"/alerts/{alert_id}#comments", status_code=303)


@router.get("/api/v1/alerts/{alert_id}/comments", tags=["alerts"], response_model=list[CommentOut])
def comments_api(request: Request, principal: Reader, alert_id: str) -> list[dict[str, Any]]:
    with session_scope(_db(request)) as session:
        return [_cols(c, CommentOut) for c in triage.detail(session, principal, alert_id).comments]


@router.post(
    "/api/v1/alerts/{alert_id}/comments", tags=["alerts"], response_model=CommentOut, status_code=201
)
def comment_api(request: Request, principal: Commenter, alert_id: str, body: CommentIn) -> dict[str, Any]:
    with session_scope(_db(request)) as session:
        return _cols(triage.comment(session, principal, alert_id, body.body), CommentOut)


# ---------------------------------------------------------------- suppress similar


class SuppressIn(BaseModel):
    fields: dict[str, str] = Field(default_factory=dict, description="field → value, from the alert's fields")
    sigma: str | None = Field(None, description="or a Sigma detection snippet (ECS field names)")
    reason: str
    expires_at: datetime = Field(description="at most 90 days ahead")
    close_matching: bool = False


class SuppressOut(BaseModel):
    id: int
    rule_id: str | None
    match: dict[str, Any]
    owner: str
    reason: str
    expires_at: datetime
    hits: int
    closed: list[str]


def _suppress_out(created: suppress.Created) -> dict[str, Any]:
    s = created.suppression
    return {
        "id": s.id, "rule_id": s.rule_id, "match": s.match, "owner": s.owner, "reason": s.reason,
        "expires_at": s.expires_at, "hits": s.hits, "closed": created.closed,
    }  # fmt: skip


@router.get("/alerts/{alert_id}/suppress", response_class=HTMLResponse, include_in_schema=False)
def suppress_page(request: Request, principal: Reader, alert_id: str) -> HTMLResponse:
    principal.require("alerts.suppress")
    with session_scope(_db(request)) as session:
        alert = triage.get(session, principal, alert_id)
        return _suppress_page(request, alert)


def _suppress_page(request: Request, alert: Alert, status: int = 200, **extra: Any) -> HTMLResponse:
    default_expiry = _local_input(utcnow() + timedelta(days=30), request)
    context: dict[str, Any] = {
        "a": alert, "fields": suppress.fields_of(alert), "alert_fields": ", ".join(ALERT_FIELDS),
        "default_expiry": default_expiry, "max_days": suppress.MAX_DAYS,
    }  # fmt: skip
    return page(request, "pages/alerts_suppress.html", status, **(context | extra))


@router.post("/alerts/{alert_id}/suppress", include_in_schema=False)
def suppress_form(request: Request, principal: Suppressor, alert_id: str, form: Form) -> Response:
    chosen = [str(v) for v in form.getlist("field")]
    fields = {name: str(form.get(f"value.{name}") or "") for name in chosen}
    try:
        with session_scope(_db(request)) as session:
            created = suppress.suppress_similar(
                session, principal, alert_id, fields=fields, sigma=_str(form, "sigma"),
                reason=_str(form, "reason") or "",
                expires_at=aq.parse_time(_str(form, "expires"), zone_of(request)),
                close_matching=form.get("close_matching") == "on",
            )  # fmt: skip
            sid, closed = created.suppression.id, len(created.closed)
    except Invalid as exc:
        with session_scope(_db(request)) as session:
            alert = triage.get(session, principal, alert_id)
            return _suppress_page(request, alert, 400, error=str(exc), form=form)
    return RedirectResponse(f"/alerts/{alert_id}?suppression={sid}&closed={closed}", status_code=303)


@router.post(
    "/api/v1/alerts/{alert_id}/suppress", tags=["alerts"], response_model=SuppressOut, status_code=201
)
def suppress_api(request: Request, principal: Suppressor, alert_id: str, body: SuppressIn) -> dict[str, Any]:
    """Suppress alerts of this alert's rule that match the chosen fields or a Sigma filter; optionally
    close the open ones that match as false positives."""
    with session_scope(_db(request)) as session:
        created = suppress.suppress_similar(
            session, principal, alert_id, fields=body.fields, sigma=body.sigma, reason=body.reason,
            expires_at=body.expires_at, close_matching=body.close_matching,
        )  # fmt: skip
        return _suppress_out(created)
