"""Helpers on requests (the WIT ``request`` record): headers, typed params, the URL's host, and
copying.

Policy: header names compare case-insensitively and keep the case they were given. Zyte API
sends only the last value of a repeated ``customHttpRequestHeaders`` name, so :func:`header`
returns the last match and :func:`set_header` leaves exactly one. The host writes ``headers``
back to ``customHttpRequestHeaders``, which Zyte API accepts only with ``httpResponseBody``.
The functions that change a request change it in place; take a :func:`copy` first when the
original must stay as it is (``process_request`` returns a new request).
"""

import copy as _copy
from typing import Optional

from wit_world.imports.types import Header, Request, SessionControls

from . import url as _url
from .params import Params

__all__ = ["Request", "Header", "copy", "header", "set_header", "remove_header", "params", "set_params", "host", "is_browser_request"]


def copy(request: Request) -> Request:
    """A deep copy of ``request``.

    Built field by field: its strings, numbers and booleans are immutable and shared, its lists
    and records new. ``copy.deepcopy`` walked every value through its generic protocol and was
    the largest part of a ``process_request`` that copies the request (issue 17)."""
    controls = request.controls
    return Request(
        url=request.url,
        method=request.method,
        headers=[Header(name=h.name, value=h.value) for h in request.headers],
        params=request.params,
        controls=SessionControls(
            enabled=controls.enabled,
            cookie_mode=controls.cookie_mode,
            params=controls.params,
            location=_copy.copy(controls.location),
            pool=_copy.copy(controls.pool),
        ),
        session_id=request.session_id,
        is_init=request.is_init,
    )


def header(request: Request, name: str) -> Optional[str]:
    """The value of header ``name`` (case-insensitive), the last one if it repeats."""
    wanted = name.lower()
    return next((h.value for h in reversed(request.headers) if h.name.lower() == wanted), None)


def set_header(request: Request, name: str, value: str) -> None:
    """Sets header ``name`` to ``value``: replaces the first header with that name (keeping its
    position, taking the new name's case) and removes any other; appends it when absent."""
    wanted = name.lower()
    first = next((i for i, h in enumerate(request.headers) if h.name.lower() == wanted), None)
    if first is None:
        request.headers.append(Header(name, value))
        return
    kept = [h for i, h in enumerate(request.headers) if i <= first or h.name.lower() != wanted]
    kept[first] = Header(name, value)
    request.headers = kept


def remove_header(request: Request, name: str) -> bool:
    """Removes every header named ``name``; returns whether there was one."""
    before = len(request.headers)
    request.headers = [h for h in request.headers if h.name.lower() != name.lower()]
    return len(request.headers) != before


def params(request: Request) -> Params:
    """The request's Zyte API params (``request.params``, which never holds ``url``)."""
    return Params.parse(request.params)


def set_params(request: Request, value: dict) -> None:
    """Replaces the request's params."""
    request.params = Params(value).to_json()


def host(request: Request) -> Optional[str]:
    """The URL's host, as written (see :func:`session_host_sdk.url.host`)."""
    return _url.host(request.url)


def is_browser_request(request: Request) -> bool:
    """Whether the request asks for ``browserHtml``; unparsable params count as not."""
    try:
        return params(request).get("browserHtml") is True
    except ValueError:
        return False
