"""The web app's messages, one module per area (common, alerts, events, …), each defining
MESSAGES = {key: {"en": …, "vi": …}}. Every module here is registered at import, so adding an area
needs no edit to this file."""

from __future__ import annotations

import importlib
import pkgutil

from soc.i18n import register

for _module in pkgutil.iter_modules(__path__):
    _mod = importlib.import_module(f"{__name__}.{_module.name}")
    register(_mod.MESSAGES, f"soc/web/texts/{_module.name}.py")
