"""Helpers for delivery tests: a TCP relay that can take the engine offline, and exact counting."""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Any

import httpx


class Relay:
    """A real TCP relay to the engine; `down()` closes it (connections refused) until `up()`."""

    def __init__(self, target: str) -> None:
        host, port = target.removeprefix("http://").rstrip("/").split(":")
        self.target = (host, int(port))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.server: socket.socket | None = None
        self.up()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def up(self) -> None:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(64)
        self.server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def down(self) -> None:
        if self.server is not None:
            with contextlib.suppress(OSError):
                self.server.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
            self.server.close()
            self.server = None

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b, server), daemon=True).start()

    def _pipe(self, a: socket.socket, b: socket.socket, server: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                if server.fileno() == -1:
                    break  # the relay went down: cut live connections too
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)


def stored(url: str, prefix: str) -> list[dict[str, Any]]:
    """Every stored document's `message` and `event.id`, exactly (a scroll over all of them)."""
    pattern = f"{prefix}-events-*"
    httpx.post(f"{url}/{pattern}/_refresh", timeout=60)
    body = {"size": 10000, "sort": ["_doc"], "_source": ["message", "event.id"]}
    answer = httpx.post(f"{url}/{pattern}/_search", params={"scroll": "1m"}, json=body, timeout=60)
    if answer.status_code == 404:
        return []
    page = answer.json()
    out: list[dict[str, Any]] = []
    while page.get("hits", {}).get("hits") and page.get("_scroll_id"):
        out += [{"_id": h["_id"], **h["_source"]} for h in page["hits"]["hits"]]
        page = httpx.post(
            f"{url}/_search/scroll", json={"scroll": "1m", "scroll_id": page["_scroll_id"]}, timeout=60
        ).json()
    if page.get("_scroll_id"):
        httpx.request("DELETE", f"{url}/_search/scroll", json={"scroll_id": page["_scroll_id"]}, timeout=60)
    return out
