"""Which URLs a config handles: :func:`rules`, built like the reference's ``@session_config``
decorator.

Policy: the defaults are the reference's: no include pattern (a universal rule, which only
applies where no domain rule matches), no exclude pattern, priority 500, and ``instead_of`` unset
(the config replaces the host's built-in default config). Patterns follow url-matcher:
``"example.com"`` matches the domain and its subdomains, ``"example.com/products"`` a path
prefix. A sidecar ``NAME.toml`` next to the ``.wasm`` may override all of it.

>>> rules(["example.com"], exclude=["example.com/login"], priority=600).include
['example.com']
"""

from typing import Iterable, Optional

from wit_world.imports.types import UrlRules

__all__ = ["DEFAULT_PRIORITY", "UrlRules", "rules"]

#: The reference's default rule priority.
DEFAULT_PRIORITY = 500


def rules(
    include: Iterable[str] = (),
    *,
    exclude: Iterable[str] = (),
    priority: int = DEFAULT_PRIORITY,
    instead_of: Optional[str] = None,
) -> UrlRules:
    """The rules of a config: ``include`` patterns, ``exclude`` patterns, ``priority`` (higher
    wins) and ``instead_of`` (the file stem of the config this one replaces)."""
    return UrlRules(list(include), list(exclude), priority, instead_of)
