"""Example location session config for the ``postal-code-NNNNN.example`` grocery sites, in Python:
sessions are initialised with the site's own location flow, and each response is checked for
the location it shows.

It behaves exactly like the Rust example (``../src/lib.rs``, which documents the sites and each
hook); ``host/tests/all/conformance.rs`` checks that the two agree.

- ``location``: the usual location (the request's control, else the setting); when there is
  none, the postal code in the site's domain name.
- ``location_params``: a browser request for the home page that runs ``setLocation`` with the
  address, then waits for the ``#location`` banner.
- ``location_check``: the default check, then the page's ``#location`` banner must say
  "Delivering to" the location's postal code (pages without the banner pass).
- Without a location, ``params`` and ``check`` are the defaults.
"""

import json
from typing import Optional, Tuple

from session_host_sdk import LocationSessionConfig, Params, RawResponse, SessionConfig, address, export, log, request as req, rules, set_location_action, url

#: The sites this config handles (url-matcher has no wildcard in domains).
DOMAINS = ("postal-code-10001.example", "postal-code-10002.example", "postal-code-94105.example")
DOMAIN_PREFIX = "postal-code-"
DOMAIN_SUFFIX = ".example"
#: The CSS selector of the location banner.
BANNER = "#location"
#: The banner's text before the postal code.
DELIVERING_TO = "Delivering to "

#: What a page's banner shows: ``(NO_BANNER, None)``, ``(NO_LOCATION, None)`` or
#: ``(POSTAL_CODE, code)``.
NO_BANNER, NO_LOCATION, POSTAL_CODE = "NoBanner", "NoLocation", "PostalCode"


class PostalCode(LocationSessionConfig):
    """The config. Stateless."""

    def rules(self):
        """The listed postal-code sites."""
        return rules(DOMAINS)

    def location(self, request):
        """The usual location, else the postal code in the domain name."""
        location = super().location(request)
        if not address.is_empty(location):
            return location
        host = req.host(request)
        code = domain_postal_code(host) if host is not None else None
        return address.address(postal_code=code) if code is not None else address.address()

    def location_params(self, request, location):
        """The site's location flow on its home page."""
        return init_params(request.url, location)

    def location_check(self, response, request, location):
        """The default check, then the banner must show the location's postal code."""
        if not SessionConfig.check(self, response, request):
            return False
        raw = RawResponse.from_response(response)
        try:
            html = raw.html()
        except ValueError as error:
            raise ValueError(f"response body: {error}") from None
        shown = banner(html) if html is not None else (NO_BANNER, None)
        keep = matches(shown, location)
        if not keep:
            log.warn(f"{request.url} shows {shown} instead of the session's location {address.to_json(location)}")
        return keep


def domain_postal_code(host: str) -> Optional[str]:
    """The postal code in a ``postal-code-NNNNN.example`` host name."""
    if not (host.startswith(DOMAIN_PREFIX) and host.endswith(DOMAIN_SUFFIX)):
        return None
    code = host[len(DOMAIN_PREFIX) : len(host) - len(DOMAIN_SUFFIX)]
    valid = len(host) >= len(DOMAIN_PREFIX) + len(DOMAIN_SUFFIX) and code and all(c.isascii() and c.isalnum() for c in code)
    return code if valid else None


def init_params(page_url: str, location) -> Params:
    """The home page of ``page_url``'s origin in a browser, ``setLocation``, then wait for the
    banner."""
    origin = url.origin(page_url)
    if origin is None:
        raise ValueError(f"cannot find the origin of {json.dumps(page_url)}")
    params = Params(url=f"{origin}/", browserHtml=True)
    params.add_action(set_location_action(location))
    params.add_action({"action": "waitForSelector", "selector": {"type": "css", "value": BANNER}})
    return params


def banner(html: str) -> Tuple[str, Optional[str]]:
    """What the ``<… id="location">`` banner of ``html`` shows."""
    at = html.find(f'id="{BANNER[1:]}"')
    if at < 0:
        return (NO_BANNER, None)
    _, found, rest = html[at:].partition(">")
    text = rest.split("<")[0] if found else ""
    text = text.strip()
    if text.startswith(DELIVERING_TO):
        return (POSTAL_CODE, text[len(DELIVERING_TO) :].strip())
    return (NO_LOCATION, None)


def matches(shown: Tuple[str, Optional[str]], location) -> bool:
    """Whether the page agrees with ``location``: no banner, or the location's postal code (any
    location without a postal code)."""
    kind, code = shown
    if kind == NO_BANNER:
        return True
    if kind == NO_LOCATION:
        return False
    return location.postal_code is None or location.postal_code == code


WitWorld = export(PostalCode)
