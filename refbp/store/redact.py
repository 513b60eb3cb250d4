"""Hiding credentials: the one function (`redacted`) through which every URL, command line or
message that might carry a password passes before it is stored, printed or served.

A database URL's password (`postgresql://user:secret@host/db`), a `password=...` or
`token=...` pair (libpq's key=value strings, query strings) and the value after a
`--token`/`--password` option become `***`. The user name and host stay: they say which
store it is without opening it.
"""

from __future__ import annotations

import re

HIDDEN = "***"
# scheme://user:password@ (the password: anything up to the last @ before the host).
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@]*:)[^\s/]*(?=@)")
# scheme://credential@ with no colon (a token as the user part): hidden too when it looks like a secret.
_URL_TOKEN = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<user>[^\s:/@]{17,})(?=@)")
_PAIR = re.compile(
    r"(?P<head>\b(?:password|passwd|pwd|token|secret|api[_-]?key|access[_-]?key)\s*=\s*)"
    r"(?P<quote>['\"]?)[^\s&'\";]+(?P=quote)",
    re.IGNORECASE,
)
_OPTION = re.compile(r"(?P<head>--(?:token|password|secret|read-token|write-token)(?:=|\s+))\S+", re.IGNORECASE)


def redacted(text: str) -> str:
    """`text` with every credential it carries replaced by ***."""
    if not isinstance(text, str):
        return text
    text = _URL_PASSWORD.sub(lambda m: m.group("head") + HIDDEN, text)
    text = _URL_TOKEN.sub(lambda m: m.group("head") + HIDDEN, text)
    text = _PAIR.sub(lambda m: m.group("head") + m.group("quote") + HIDDEN + m.group("quote"), text)
    return _OPTION.sub(lambda m: m.group("head") + HIDDEN, text)


def redacted_values(value):
    """A JSON-like value (a run's environment) with `redacted` applied to every string in it."""
    if isinstance(value, str):
        return redacted(value)
    if isinstance(value, dict):
        return {key: redacted_values(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [redacted_values(item) for item in value]
    return value


def database_kind(url: str | None) -> str:
    """What a page may say about the store: `sqlite`, `postgresql`, ... (never its path or host)."""
    if not url or url.lower() == "none":
        return "none"
    return url.split(":", 1)[0].split("+", 1)[0].lower() or "unknown"
