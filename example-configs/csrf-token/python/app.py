"""Example session config for ``csrf.example``, in Python: a CSRF token found at session
initialisation is sent with every request of the session.

It behaves exactly like the Rust example (``../src/lib.rs``, which documents the site and each
hook); ``host/tests/all/conformance.rs`` checks that the two agree.

- ``params``: initialise on the site's home page with a cheap HTTP request
  (``httpResponseBody``), whatever URL triggered the init.
- ``check``: the default check first. On the init response, store the token of the
  ``<input name="csrf_token">`` element in session data; no token fails the check. On a use
  response, statusCode 403 discards the session.
- ``process_request``: add the token as the ``x-csrf-token`` header to HTTP requests, or as the
  ``csrf`` query parameter to browser requests (Zyte API sends custom headers only with
  ``httpResponseBody``).
"""

import json
from typing import Optional

from session_host_sdk import Params, RawResponse, SessionConfig, export, log, request as req, rules, session_data, url

#: The domain this config handles.
DOMAIN = "csrf.example"
#: The session-data key of the token.
TOKEN_KEY = "csrf_token"
#: The header carrying the token on HTTP (``httpResponseBody``) requests.
TOKEN_HEADER = "x-csrf-token"
#: The query parameter carrying the token on other requests.
TOKEN_QUERY = "csrf"
#: The ``name`` of the form input holding the token on the home page.
TOKEN_INPUT = "csrf_token"
#: The site's statusCode for a missing or wrong token.
FORBIDDEN = 403


class CsrfToken(SessionConfig):
    """The config. Stateless: the token lives in session data."""

    def rules(self):
        """Only ``csrf.example``."""
        return rules([DOMAIN])

    def params(self, request):
        """An HTTP request for the home page."""
        return init_params(request.url)

    def check(self, response, request):
        """The default check, then the token (init) or the site's 403 (use)."""
        if not super().check(response, request):
            return False
        raw = RawResponse.from_response(response)
        if not request.is_init:
            return raw.status_code != FORBIDDEN
        try:
            html = raw.html()
        except ValueError as error:
            raise ValueError(f"init response body: {error}") from None
        token = extract_token(html) if html is not None else None
        if token is None:
            log.warn(f"no CSRF token in the init response from {raw.url if raw.url is not None else request.url}")
            return False
        session_data.set(TOKEN_KEY, token)
        log.info(f"CSRF token stored for session {request.session_id or '?'}")
        return True

    def process_request(self, request):
        """The request with the session's token, or ``None`` when the session has none."""
        token = session_data.get(TOKEN_KEY)
        if token is None:
            log.warn(f"session {request.session_id or '?'} has no CSRF token")
            return None
        return with_token(request, token)


def init_params(page_url: str) -> Params:
    """Init params: an HTTP request for the home page of ``page_url``'s origin."""
    origin = url.origin(page_url)
    if origin is None:
        raise ValueError(f"cannot find the origin of {json.dumps(page_url)}")
    return Params(url=f"{origin}/", httpResponseBody=True)


def extract_token(html: str) -> Optional[str]:
    """The token: the ``value`` attribute of the ``<input>`` whose ``name`` is ``csrf_token``."""
    name_at = html.find(f'name="{TOKEN_INPUT}"')
    if name_at < 0:
        return None
    tag_start = html.rfind("<", 0, name_at)
    tag_end = html.find(">", name_at)
    if tag_start < 0 or tag_end < 0:
        return None
    parts = html[tag_start:tag_end].split(' value="')
    value = parts[1].split('"')[0] if len(parts) > 1 else ""
    return value or None


def with_token(request, token: str):
    """A copy of ``request`` carrying ``token``: as a header when it is an HTTP request, else in
    the query."""
    request = req.copy(request)
    if req.params(request).get("httpResponseBody") is True:
        req.set_header(request, TOKEN_HEADER, token)
    else:
        request.url = url.with_query_param(request.url, TOKEN_QUERY, token)
    return request


WitWorld = export(CsrfToken)
