"""Dossier documents on disk: checked (name, type, size, content), hashed, stored under a generated
name, never overwritten and never executable.

The uploader's file name is only kept to show and to offer on download; it never becomes a path.
The content type served is the one this module assigns from the allow-list, not what the client
claimed, and files are written 0640 with exclusive create.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from soc.dossiers.messages import Refusal, refusal

ZIP = (b"PK\x03\x04",)
OLE = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",)
ALLOWED: dict[str, tuple[str, tuple[bytes, ...]]] = {
    ".pdf": ("application/pdf", (b"%PDF-",)),
    ".docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", ZIP),
    ".xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ZIP),
    ".odt": ("application/vnd.oasis.opendocument.text", ZIP),
    ".doc": ("application/msword", OLE),
    ".xls": ("application/vnd.ms-excel", OLE),
    ".png": ("image/png", (b"\x89PNG\r\n\x1a\n",)),
    ".jpg": ("image/jpeg", (b"\xff\xd8\xff",)),
    ".jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
}
"""Extension: (content type served, magic prefixes the content must start with)."""
MAX_NAME = 200
CHUNK = 1024 * 1024


class UploadRefused(Exception):
    def __init__(self, reason: Refusal) -> None:
        self.reason = reason
        super().__init__(reason.render())


@dataclass(frozen=True)
class Stored:
    filename: str
    stored_name: str
    content_type: str
    size_bytes: int
    sha256: str


def check_name(filename: str) -> str:
    """The display name, or UploadRefused if it tries anything with paths or hidden characters."""
    name = unicodedata.normalize("NFC", filename).strip()
    bad = (
        not name
        or len(name) > MAX_NAME
        or any(c in name for c in "/\\\x00:")
        or any(unicodedata.category(c) in ("Cc", "Cf") for c in name)
        or name.startswith(".")
        or ".." in name
    )
    if bad:
        raise UploadRefused(refusal("upload_name", name=filename[:80]))
    extension = os.path.splitext(name)[1].lower()
    if extension not in ALLOWED:
        raise UploadRefused(refusal("upload_type", ext=extension or name, allowed=", ".join(ALLOWED)))
    return name


def store(folder: Path, filename: str, stream: BinaryIO, max_bytes: int) -> Stored:
    """Write the upload under `folder` with a fresh random name; refuse it before anything stays."""
    name = check_name(filename)
    extension = os.path.splitext(name)[1].lower()
    content_type, magics = ALLOWED[extension]
    folder.mkdir(parents=True, exist_ok=True)
    stored_name = f"{secrets.token_hex(16)}{extension}.bin"
    target = folder / stored_name
    digest, size, head = hashlib.sha256(), 0, b""
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise UploadRefused(refusal("upload_too_large", size=f"> {max_bytes}", limit=max_bytes))
                if len(head) < 16:
                    head = (head + chunk)[:16]
                digest.update(chunk)
                out.write(chunk)
        if size == 0 or not head.startswith(magics):
            raise UploadRefused(refusal("upload_content", ext=extension))
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return Stored(name, stored_name, content_type, size, digest.hexdigest())


def discard(folder: Path, stored_name: str) -> None:
    """Remove a file whose database row was not kept (duplicate, rolled back)."""
    (folder / Path(stored_name).name).unlink(missing_ok=True)
