"""The notifier contract: one small class per transport, with a `kind` and a `send()`.

`send()` returns when the message was accepted and raises NotifyError otherwise; the error says
whether retrying can help (`permanent=False`) or not (`permanent=True`, straight to dead letter).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Protocol


@dataclass(frozen=True)
class Outgoing:
    """One fully rendered message for one recipient, as stored in the outbox."""

    recipient: str
    subject: str
    message_id: str
    text: str
    html: str
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    group_id: str | None = None


class Notifier(Protocol):
    kind: ClassVar[str]

    def send(self, message: Outgoing) -> None: ...
