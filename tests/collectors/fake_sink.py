"""A sink for pipeline tests: connected is itself, prepares nothing, its request is the documents.

Subclasses say what `post` does with them.
"""

from __future__ import annotations

from typing import Any, Self

from collectors.sinks.base import Delivery, Spooled


class FakeSink:
    def connect(self) -> Self:
        return self

    def prepare(self, ev: dict[str, Any], doc_id: str) -> str:
        return ""

    def request(self, docs: list[Spooled]) -> list[Spooled]:
        return docs

    def post(self, docs: list[Spooled]) -> Delivery:
        raise NotImplementedError

    def close(self) -> None:
        pass
