"""Per-session key/value storage kept by the host: how ``check`` hands a token to
``process_request``.

Policy (from the WIT ``session-data`` interface): the data belongs to the session the hook runs
for (the session being created in ``init_session``, the request's session in ``check`` and
``process_request``); other hooks have no session, so :func:`get` returns ``None`` and
:func:`set` raises. Data outlives instance recycling and config reloads and is dropped with the
session. Limits per session: 64 keys, 256 bytes per key, 64 KiB per value; :func:`set` raises
:class:`SessionDataError` rather than exceed them. Never keep such state in globals or on the
config object: instances are recycled.
"""

import json
from typing import Any, List, Optional

from componentize_py_types import Err
from wit_world.imports import session_data as _host

__all__ = ["SessionDataError", "get", "set", "remove", "keys", "get_json", "set_json"]


class SessionDataError(Exception):
    """The host refused a :func:`set`: no session, or a limit would be exceeded."""


def get(key: str) -> Optional[str]:
    """The value stored under ``key`` for the current session."""
    return _host.get(key)


def set(key: str, value: str) -> None:  # noqa: A001 - mirrors the WIT name
    """Stores ``value`` under ``key`` for the current session."""
    try:
        _host.set(key, value)
    except Err as error:
        raise SessionDataError(error.value) from None


def remove(key: str) -> None:
    """Removes ``key``; a no-op when absent."""
    _host.remove(key)


def keys() -> List[str]:
    """The keys stored for the current session, in insertion order."""
    return _host.keys()


def get_json(key: str) -> Any:
    """The value under ``key`` parsed from JSON (``None`` when absent)."""
    text = get(key)
    return None if text is None else json.loads(text)


def set_json(key: str, value: Any) -> None:
    """Stores ``value`` under ``key`` as JSON."""
    set(key, json.dumps(value, separators=(",", ":"), ensure_ascii=False))
