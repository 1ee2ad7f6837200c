"""Minimal URL helpers for the absolute ``http(s)`` URLs that Zyte API requests carry.

Policy: these are string operations that behave exactly like the Rust SDK's ``url`` module (so a
config ported between languages builds the same URLs), not a full URL parser. They understand
``scheme://authority/path?query#fragment`` and return ``None`` for anything without ``://``.
Hosts are returned as written; the host lowercases them before matching rules.

>>> origin("https://shop.example:8443/search?q=a#top")
'https://shop.example:8443'
>>> host("https://shop.example:8443/search?q=a#top")
'shop.example'
>>> with_query_param("https://shop.example/search?q=a#top", "csrf", "a b")
'https://shop.example/search?q=a&csrf=a%20b#top'
"""

from typing import Optional

__all__ = ["origin", "host", "with_query_param", "percent_encode"]

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def origin(url: str) -> Optional[str]:
    """``scheme://authority``, without a trailing slash; ``None`` without ``://``."""
    at = url.find("://")
    if at < 0:
        return None
    start = at + 3
    ends = [i for i in (url.find(c, start) for c in "/?#") if i >= 0]
    return url[: min(ends)] if ends else url


def host(url: str) -> Optional[str]:
    """The host: the authority without user info and port."""
    found = origin(url)
    if found is None:
        return None
    authority = found[found.find("://") + 3 :]
    host_port = authority.rpartition("@")[2]
    if host_port.startswith("["):
        end = host_port.find("]")
        return host_port[: end + 1] if end >= 0 else None
    return host_port.partition(":")[0]


def with_query_param(url: str, name: str, value: str) -> str:
    """``url`` with ``name=value`` appended to its query (before any fragment), both
    percent-encoded."""
    base, hash_sign, fragment = url.partition("#")
    query_at = base.find("?")
    if query_at < 0:
        separator = "?"
    elif query_at + 1 == len(base) or base.endswith("&"):
        separator = ""
    else:
        separator = "&"
    out = f"{base}{separator}{percent_encode(name)}={percent_encode(value)}"
    return f"{out}#{fragment}" if hash_sign else out


def percent_encode(text: str) -> str:
    """Percent-encodes the UTF-8 bytes of ``text``, except RFC 3986 unreserved characters."""
    return "".join(chr(b) if b in _UNRESERVED else f"%{b:02X}" for b in text.encode("utf-8"))
