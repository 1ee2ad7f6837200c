"""Zyte API request parameters: :class:`Params`, a ``dict`` with helpers.

Policy: params are always a JSON object; :meth:`Params.parse` rejects any other JSON value, like
the reference rejects a ``params()`` result that is not a dict. A hook may return a plain
``dict`` or a ``Params``: both serialise the same way, with sorted keys and no spaces, like the
Rust SDK (so that every language sends byte-identical params). Setters never validate Zyte API's
own rules, except the two output helpers, which keep ``browserHtml`` and ``httpResponseBody``
exclusive.

Init parameters (the ``params`` hook) may hold ``url``, the URL of the init request; a request's
params never do (its URL is ``request.url``).

>>> p = Params(url="https://shop.example/", browserHtml=True)
>>> p.add_action(set_location_action({"postalCode": "10001"})).to_json()
'{"actions":[{"action":"setLocation","address":{"postalCode":"10001"}}],"browserHtml":true,"url":"https://shop.example/"}'
"""

import json
from typing import Any, Dict, List, Mapping, Optional, Union

from wit_world.imports.types import Address

from . import address as _address

__all__ = ["Params", "to_json", "set_location_action"]


def to_json(value: Any) -> str:
    """Compact JSON text with sorted keys, the SDKs' common serialisation."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def set_location_action(location: Union[Address, Mapping[str, str]]) -> Dict[str, Any]:
    """A ``setLocation`` action for ``location`` (an :class:`Address` or a JSON address dict)."""
    fields = _address.to_json(location) if isinstance(location, Address) else dict(location)
    return {"action": "setLocation", "address": fields}


class Params(dict):
    """Zyte API request parameters: a ``dict`` of JSON values. See the module docs."""

    @classmethod
    def parse(cls, text: str) -> "Params":
        """Parses a JSON object text (``request.params``, a host default's result). Raises
        ``ValueError`` for invalid JSON or a non-object."""
        try:
            value = json.loads(text)
        except ValueError as error:
            raise ValueError(f"Zyte API params are not valid JSON: {error}") from None
        if not isinstance(value, dict):
            raise ValueError(f"Zyte API params must be a JSON object, not {type(value).__name__}")
        return cls(value)

    def to_json(self) -> str:
        """The JSON object text (sorted keys, compact)."""
        return to_json(self)

    @property
    def url(self) -> Optional[str]:
        """``url``: the init URL in init parameters, when it is a string."""
        value = self.get("url")
        return value if isinstance(value, str) else None

    def set_http_response_body(self, on: bool = True) -> "Params":
        """Turns ``httpResponseBody`` on (removing ``browserHtml``, which Zyte API does not allow
        with it) or off. Returns ``self``."""
        return self._set_output("httpResponseBody", "browserHtml", on)

    def set_browser_html(self, on: bool = True) -> "Params":
        """Turns ``browserHtml`` on (removing ``httpResponseBody``) or off. Returns ``self``."""
        return self._set_output("browserHtml", "httpResponseBody", on)

    def _set_output(self, key: str, exclusive_with: str, on: bool) -> "Params":
        if on:
            self.pop(exclusive_with, None)
            self[key] = True
        else:
            self.pop(key, None)
        return self

    @property
    def actions(self) -> List[Any]:
        """The ``actions`` list; empty when absent or not a list."""
        value = self.get("actions")
        return value if isinstance(value, list) else []

    def add_action(self, action: Mapping[str, Any]) -> "Params":
        """Appends ``action`` to ``actions``, creating the list when absent (a non-list
        ``actions`` is replaced, since Zyte API would reject it). Returns ``self``."""
        if isinstance(self.get("actions"), list):
            self["actions"].append(dict(action))
        else:
            self["actions"] = [dict(action)]
        return self
