"""Postal addresses (the WIT ``address`` record): building them, testing them for emptiness, and
converting them to and from Zyte API's JSON.

Policy (from the WIT): a field is either absent (``None``) or a string, and an empty string still
counts as set. An address is empty, which means "no location", only when all four fields are
``None``. In JSON (``setLocation``'s ``address``, the ``location`` setting) absent fields are
omitted and the names are Zyte API's: ``addressCountry``, ``addressRegion``, ``postalCode``,
``streetAddress``. Hooks that return an address (``location``) may return either an
:class:`Address` or such a dict.

>>> to_json(address(country="US", postal_code="10001"))
{'addressCountry': 'US', 'postalCode': '10001'}
>>> is_empty(address())
True
"""

from typing import Any, Dict, Optional

from wit_world.imports.types import Address

__all__ = ["ADDRESS_FIELDS", "Address", "address", "is_empty", "to_json", "from_json", "coerce"]

#: The JSON names of the address fields, in the WIT's order (the reference's
#: ``SessionConfig.ADDRESS_FIELDS``).
ADDRESS_FIELDS = ("addressCountry", "addressRegion", "postalCode", "streetAddress")
_ATTRIBUTES = ("address_country", "address_region", "postal_code", "street_address")


def address(
    country: Optional[str] = None,
    region: Optional[str] = None,
    postal_code: Optional[str] = None,
    street_address: Optional[str] = None,
) -> Address:
    """An :class:`Address` with the given fields (all absent by default: the empty address)."""
    return Address(country, region, postal_code, street_address)


def is_empty(value: Address) -> bool:
    """Whether no field is set: the reference's falsy location."""
    return all(getattr(value, name) is None for name in _ATTRIBUTES)


def to_json(value: Address) -> Dict[str, str]:
    """The address as a Zyte API JSON object, absent fields omitted."""
    fields = zip(ADDRESS_FIELDS, (getattr(value, name) for name in _ATTRIBUTES))
    return {key: text for key, text in fields if text is not None}


def from_json(value: Any) -> Address:
    """Reads a Zyte API JSON address object. Unknown keys, non-objects and non-string values raise
    ``ValueError``, so that a typo never silently drops a field."""
    if not isinstance(value, dict):
        raise ValueError("an address must be a JSON object")
    for key in value:
        if key not in ADDRESS_FIELDS:
            raise ValueError(f"unknown address field {key!r}")
    for key, text in value.items():
        if not isinstance(text, str):
            raise ValueError(f"address field {key!r} must be a string, not {text!r}")
    return Address(*(value.get(key) for key in ADDRESS_FIELDS))


def coerce(value: Any) -> Address:
    """An :class:`Address` from what a ``location`` hook returned: an ``Address`` or a JSON dict
    (``None`` is the empty address)."""
    if value is None:
        return address()
    if isinstance(value, Address):
        return value
    return from_json(value)
