"""Which parser a line is for, from its first characters (and the file path for access logs)."""

from __future__ import annotations

import re

from collectors.parsers import access, clamav

_NGINX_ERROR = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[")
_ISO = re.compile(r"^\d{4}-\d\d-\d\d[T ]\d\d:")
_MONTH = re.compile(r"^(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +\d")
_WEEKDAY = re.compile(r"^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) \w{3} +\d+ [\d:]+ \d{4} -> ")
_APACHE_ERROR = re.compile(r"^\[(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) \w{3} \d\d ")


def detect(text: str, path: str | None) -> str | None:
    first = text[:1]
    if first == "{":
        return "jsonl"
    if text.startswith(("type=", "node=")):
        return "auditd"
    if first == "<" or _MONTH.match(text) or _ISO.match(text):
        return "syslog"
    if first == "[" and _APACHE_ERROR.match(text):
        return "apache_error"
    if _NGINX_ERROR.match(text):
        return "nginx_error"
    if _WEEKDAY.match(text) or (text.endswith(" FOUND") and text.startswith("/")):
        return "clamav"
    if access.LINE.match(text):
        return _access_flavour(text, path)
    if clamav.parse_message.__name__ and text.endswith(" FOUND"):
        return "clamav"
    return None


def _access_flavour(text: str, path: str | None) -> str:
    """Both servers write the same combined format: the path decides, else nginx's extras do."""
    lowered = (path or "").lower()
    if "nginx" in lowered:
        return "nginx_access"
    if "apache" in lowered or "httpd" in lowered:
        return "apache_access"
    head = text.split(" [", 1)[0]
    if "," in head or text.endswith('"-"') or text.count('"') > 6:
        return "nginx_access"
    return "apache_access"
