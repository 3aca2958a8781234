"""Acknowledge links: signed, short-lived, single-use tokens bound to (action, group, recipient).

A token is `base64url(claims).base64url(HMAC-SHA256(key, claims))`, the key derived from the
service's secret key. It also carries the group's state version, so it is void once the group
changed state (acknowledged by someone else, resolved). Single use is enforced by inserting its
nonce into `notify_ack_uses` in the transaction that acknowledges.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

TTL = timedelta(hours=4)
ACTIONS = ("ack",)


class AckRefused(Exception):
    """A token that may not act; `status` is the HTTP status, `reason` a message key."""

    def __init__(self, status: int, reason: str, **values: str) -> None:
        super().__init__(reason)
        self.status, self.reason, self.values = status, reason, values


@dataclass(frozen=True)
class Claims:
    action: str
    group: str
    recipient: str
    username: str
    version: int
    expires: int
    nonce: str


def _key(secret_key: str) -> bytes:
    return hmac.new(secret_key.encode(), b"soc.notify.ack.v1", hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(
    secret_key: str, *, group: str, recipient: str, username: str, version: int, now: datetime,
    action: str = "ack", ttl: timedelta = TTL,
) -> str:  # fmt: skip
    if not secret_key:
        raise ValueError("a secret key is needed to sign acknowledge links")
    claims = {
        "a": action, "g": group, "r": recipient, "u": username, "v": version,
        "e": int((now + ttl).timestamp()), "n": secrets.token_urlsafe(12),
    }  # fmt: skip
    body = _b64(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
    return f"{body}.{_b64(hmac.new(_key(secret_key), body.encode(), hashlib.sha256).digest())}"


def verify(secret_key: str, token: str, *, now: datetime, action: str = "ack") -> Claims:
    """The token's claims when its signature is ours and it has not expired; AckRefused otherwise."""
    body, _, signature = token.partition(".")
    expected = _b64(hmac.new(_key(secret_key), body.encode(), hashlib.sha256).digest())
    # Compare bytes: compare_digest refuses non-ASCII str with a TypeError (a 500, not a refusal).
    given = signature.encode("utf-8", "replace")
    if not secret_key or not signature or not hmac.compare_digest(given, expected.encode()):
        raise AckRefused(403, "ack.forged")
    try:
        raw = json.loads(_unb64(body))
        claims = Claims(
            action=str(raw["a"]), group=str(raw["g"]), recipient=str(raw["r"]), username=str(raw["u"]),
            version=int(raw["v"]), expires=int(raw["e"]), nonce=str(raw["n"]),
        )  # fmt: skip
    except (ValueError, KeyError, TypeError) as exc:
        raise AckRefused(403, "ack.forged") from exc
    if claims.action != action:
        raise AckRefused(403, "ack.foreign")
    if datetime.fromtimestamp(claims.expires, UTC) <= now:
        raise AckRefused(410, "ack.expired")
    return claims
