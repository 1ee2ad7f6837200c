"""Typed reads of a Zyte API response body: :class:`RawResponse`.

Policy: parsing checks only that the body is a JSON object; each accessor then reads one field
and returns ``None`` (or an empty list) when it is absent or has an unexpected type, the way the
reference's ``raw_api_response.get(...)`` does. Only decoding ``httpResponseBody`` can raise,
because invalid base64 is a broken response rather than a missing field.

>>> raw = RawResponse.parse('{"statusCode": 200, "httpResponseBody": "PHA+aGk8L3A+"}')
>>> raw.status_code, raw.html()
(200, '<p>hi</p>')
"""

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from wit_world.imports.types import Response

__all__ = ["RawResponse", "ActionResult", "ResponseCookie"]


@dataclass
class ActionResult:
    """The outcome of one browser action, an element of the response's ``actions``."""

    #: The action name, e.g. ``setLocation``.
    action: str
    #: ``success``, ``returned``, ``continued``, ``notExecuted``, or any other value verbatim
    #: (``""`` when absent).
    status: str
    #: Why the action failed, when it did.
    error: Optional[str] = None

    @property
    def succeeded(self) -> bool:
        """Whether the status is ``success``."""
        return self.status == "success"

    @property
    def failed(self) -> bool:
        """Whether the action ran and failed (``returned`` or ``continued``)."""
        return self.status in ("returned", "continued")


@dataclass
class ResponseCookie:
    """One cookie of ``responseCookies``."""

    #: Cookie name.
    name: str
    #: Cookie value.
    value: str
    #: ``domain``, when given.
    domain: Optional[str] = None
    #: ``path``, when given.
    path: Optional[str] = None


def _text(value: Any) -> Optional[str]:
    return value if isinstance(value, str) else None


class RawResponse:
    """A parsed Zyte API response body. See the module docs."""

    def __init__(self, body: Dict[str, Any]):
        """Wraps an already parsed body (a dict)."""
        #: The parsed body.
        self.body = body

    @classmethod
    def parse(cls, text: str) -> "RawResponse":
        """Parses a response body, which must be a JSON object (``ValueError`` otherwise)."""
        try:
            value = json.loads(text)
        except ValueError as error:
            raise ValueError(f"the Zyte API response body is not valid JSON: {error}") from None
        if not isinstance(value, dict):
            raise ValueError("the Zyte API response body is not a JSON object")
        return cls(value)

    @classmethod
    def from_response(cls, response: Response) -> "RawResponse":
        """Parses ``response.body``."""
        return cls.parse(response.body)

    def get(self, key: str) -> Any:
        """The value of any top-level field, or ``None``."""
        return self.body.get(key)

    @property
    def url(self) -> Optional[str]:
        """``url``: the final URL, after redirects."""
        return _text(self.get("url"))

    @property
    def status_code(self) -> Optional[int]:
        """``statusCode``: the target site's HTTP status."""
        value = self.get("statusCode")
        valid = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 0xFFFF
        return value if valid else None

    @property
    def browser_html(self) -> Optional[str]:
        """``browserHtml``."""
        return _text(self.get("browserHtml"))

    def http_response_body(self) -> Optional[bytes]:
        """``httpResponseBody``, base64-decoded; ``None`` when absent. Raises ``ValueError`` on
        invalid base64."""
        encoded = _text(self.get("httpResponseBody"))
        if encoded is None:
            return None
        try:
            return base64.b64decode(encoded, validate=True)
        except binascii.Error as error:
            raise ValueError(f"httpResponseBody is not valid base64: {error}") from None

    def html(self) -> Optional[str]:
        """The page as text: ``browserHtml``, else ``httpResponseBody`` decoded as UTF-8 (invalid
        sequences replaced); ``None`` when the response has neither."""
        if self.browser_html is not None:
            return self.browser_html
        body = self.http_response_body()
        return None if body is None else body.decode("utf-8", errors="replace")

    def response_header(self, name: str) -> Optional[str]:
        """The value of response header ``name`` (case-insensitive, first match) from
        ``httpResponseHeaders``."""
        headers = self.get("httpResponseHeaders")
        for header in headers if isinstance(headers, list) else []:
            found = _text(header.get("name")) if isinstance(header, dict) else None
            if found is not None and found.lower() == name.lower():
                return _text(header.get("value"))
        return None

    def actions(self) -> List[ActionResult]:
        """``actions``: the outcome of each browser action, in order."""
        actions = self.get("actions")
        out = []
        for item in actions if isinstance(actions, list) else []:
            item = item if isinstance(item, dict) else {}
            action, status = _text(item.get("action")) or "", _text(item.get("status")) or ""
            out.append(ActionResult(action, status, _text(item.get("error"))))
        return out

    def action_failed(self) -> bool:
        """Whether any action ran and failed."""
        return any(action.failed for action in self.actions())

    def set_location_result(self) -> Optional[ActionResult]:
        """The first ``setLocation`` action's outcome, the one the default check inspects."""
        return next((a for a in self.actions() if a.action == "setLocation"), None)

    def response_cookies(self) -> List[ResponseCookie]:
        """``responseCookies``; entries without a string name or value are skipped."""
        cookies = self.get("responseCookies")
        out = []
        for item in cookies if isinstance(cookies, list) else []:
            if not isinstance(item, dict):
                continue
            name, value = _text(item.get("name")), _text(item.get("value"))
            if name is not None and value is not None:
                out.append(ResponseCookie(name, value, _text(item.get("domain")), _text(item.get("path"))))
        return out
