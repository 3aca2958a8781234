"""Where the rules and playbooks shipped with the service are.

In a source checkout (and an editable install) they are the repository's `rules/` and
`playbooks/` folders. A wheel carries them as data files under `<prefix>/share/soc/` (pyproject's
`tool.setuptools.data-files`), because setuptools package data must live inside a package and
the folders stay at the top of the repository where rule authors expect them.
"""

from __future__ import annotations

import sys
from pathlib import Path

SOURCE_ROOT = Path(__file__).resolve().parents[1]


def folder(name: str) -> Path:
    """`rules` or `playbooks`: the checkout's folder when there is one, else the installed copy."""
    here = SOURCE_ROOT / name
    if here.is_dir():
        return here
    return Path(sys.prefix) / "share" / "soc" / name
