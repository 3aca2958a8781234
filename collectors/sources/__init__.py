"""Where records come from: one module per source type, registered by its `type:` name."""

from __future__ import annotations

from collectors.sources.file import FileSource

SOURCES: dict[str, type[FileSource]] = {"file": FileSource}
