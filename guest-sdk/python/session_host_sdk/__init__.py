"""The Python SDK for session-host session configs.

A session config is a WebAssembly component holding the site-specific logic of Zyte API session
management for the URLs its rules select (the contract: ``wit/session-config.wit``, world
``session-config``). With this package, a config is a subclass of :class:`SessionConfig` (or
:class:`LocationSessionConfig`) in an app module that ends with ``WitWorld = export(MyConfig)``,
built with componentize-py::

    componentize-py -d wit -w session-config componentize app -p guest-sdk/python -o my-config.wasm

Where to start: :class:`SessionConfig` (the hooks, each defaulting to the reference's behaviour;
call ``super()`` for it), :class:`LocationSessionConfig`, then the helpers: :class:`Params`,
:class:`RawResponse`, :mod:`~session_host_sdk.address`, :mod:`~session_host_sdk.request`
(headers, params), :func:`rules`, :mod:`~session_host_sdk.session_data`,
:mod:`~session_host_sdk.log`, :mod:`~session_host_sdk.url`, :func:`download`.

Example: a config for ``shop.example`` that keeps a token found on the home page and sends it
with every request of the session::

    from session_host_sdk import Params, RawResponse, SessionConfig, export, request as req, rules, session_data, url

    class Shop(SessionConfig):
        def rules(self):
            return rules(["shop.example"])

        def params(self, request):
            return Params(url=url.origin(request.url) + "/", httpResponseBody=True)

        def check(self, response, request):
            if not request.is_init:
                return super().check(response, request)
            html = RawResponse.from_response(response).html() or ""
            token = html.partition('data-token="')[2].partition('"')[0]
            if token:
                session_data.set("token", token)
            return bool(token)

        def process_request(self, request):
            token = session_data.get("token")
            if token is None:
                return None
            request = req.copy(request)
            req.set_header(request, "x-token", token)
            return request

    WitWorld = export(Shop)
"""

from wit_world.imports.types import Address, Header, PoolSpec, Request, Response, UrlRules

from . import address, log, request, session_data, url
from .config import LocationSessionConfig, SessionConfig, download, verdict_to_bool
from .errors import ClosePool, DownloadFailed, InitCheckError, InitDownloadError, InitError, InitFailed, InitParamError
from .export import export
from .params import Params, set_location_action
from .response import ActionResult, RawResponse, ResponseCookie
from .rules import rules

__all__ = [
    "ActionResult",
    "Address",
    "ClosePool",
    "DownloadFailed",
    "Header",
    "InitCheckError",
    "InitDownloadError",
    "InitError",
    "InitFailed",
    "InitParamError",
    "LocationSessionConfig",
    "Params",
    "PoolSpec",
    "RawResponse",
    "Request",
    "Response",
    "ResponseCookie",
    "SessionConfig",
    "UrlRules",
    "address",
    "download",
    "export",
    "log",
    "request",
    "rules",
    "session_data",
    "set_location_action",
    "url",
    "verdict_to_bool",
]
