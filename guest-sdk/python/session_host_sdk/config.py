"""``SessionConfig`` and ``LocationSessionConfig``: the hooks of a session config, mirroring the
reference's classes (scrapy-zyte-api 0.36.0, section 6) method for method.

Policy: every method has a default that behaves exactly like the reference's, computed by the
host's ``defaults`` interface (which knows the host's settings). A config overrides what it
needs and calls ``super()`` for the default behaviour. Because the defaults go through ``self``,
an override of :meth:`SessionConfig.location` changes what the default ``params`` and ``check``
see, and overrides of ``params`` and ``check`` change what the default ``init_session`` does, as
in the reference. (The host cannot call back into a running guest, so the SDK makes those inner
calls here and passes their results to the host.)

Return values are the reference's, in Python types: ``pool`` returns a pool id ``str`` (or a
``dict`` with ``id`` and optional ``size``, ``delay``, ``randomize_delay``, or a ``PoolSpec``);
``location`` an :class:`~session_host_sdk.Address` (or a Zyte API address ``dict``); ``params``
a ``dict`` (e.g. :class:`~session_host_sdk.Params`); ``check`` a ``bool``, raising
:class:`~session_host_sdk.ClosePool` to close the pool; ``process_request`` a new request or
``None``. Raising is the reference's exception (see :mod:`session_host_sdk.errors`).

A config must keep no state between calls: the host builds the config object for each call and
reuses, recycles and discards instances at will. State that must outlive a call goes into
:mod:`session_host_sdk.session_data`.
"""

from typing import Any, Dict, Optional, Union

from componentize_py_types import Err
from wit_world.imports import defaults as _defaults
from wit_world.imports import download as _download
from wit_world.imports.types import Address, PoolSpec, Request, Response, UrlRules, Verdict, Verdict_ClosePool, Verdict_Keep

from . import address as _address
from .errors import ClosePool, DownloadFailed, InitCheckError, InitDownloadError, InitParamError, message_of
from .params import Params, to_json

__all__ = ["SessionConfig", "LocationSessionConfig", "download", "verdict_to_bool"]


def download(request: Request) -> Response:
    """Sends ``request`` to Zyte API with the session being initialised (only during
    ``init_session``) and returns the response; raises :class:`DownloadFailed` otherwise."""
    try:
        return _download.download(request)
    except Err as error:
        raise DownloadFailed(error.value) from None


def has_actions(response: Response) -> bool:
    """Whether ``response``'s body may hold an ``actions`` field: the key's text appears in it.
    The default check reads nothing else, so a body without it keeps the session."""
    return '"actions"' in response.body


def verdict_to_bool(verdict: Verdict) -> bool:
    """A host verdict as the reference's ``check`` result: ``True`` to keep, ``False`` to
    discard; a close-pool verdict raises :class:`ClosePool`."""
    if isinstance(verdict, Verdict_ClosePool):
        raise ClosePool(verdict.value)
    return isinstance(verdict, Verdict_Keep)


class SessionConfig:
    """The hooks of a session config, each defaulting to the reference's behaviour."""

    def rules(self) -> UrlRules:
        """Which URLs this config handles, called once when it loads (see
        :func:`session_host_sdk.rules`). Default: a universal rule with priority 500, which a
        real config almost always replaces."""
        return _defaults.rules()

    def enabled(self, request: Request) -> bool:
        """Whether session management applies to ``request``: the request's
        ``zyte_api_session_enabled`` control, else the ``enabled`` setting."""
        return _defaults.enabled(request)

    def cookie_mode(self, request: Request) -> bool:
        """Whether sessions are cookie jars kept by the host instead of Zyte API sessions: the
        request's control, else the ``cookie_mode`` setting."""
        return _defaults.cookie_mode(request)

    def pool(self, request: Request) -> Union[str, Dict[str, Any], PoolSpec]:
        """The pool ``request`` goes to (reference 5.2): the request's pool control, else
        ``netloc[n]`` for its params control, else ``netloc@fields`` for its location control,
        else the URL's netloc. Raising closes the pool with ``pool_error``."""
        try:
            return _defaults.pool(request)
        except Err as error:
            raise ValueError(error.value) from None

    def location(self, request: Request) -> Union[Address, Dict[str, str]]:
        """The location sessions for ``request`` are initialised with: the request's location
        control if set (even if empty), else the ``location`` setting. Empty means none."""
        return _defaults.location(request)

    def params(self, request: Request) -> Dict[str, Any]:
        """Session initialisation parameters: ``{"browserHtml": true}``, plus a ``setLocation``
        action when ``self.location(request)`` is not empty. May hold ``url``, the init URL
        (default: the triggering request's URL)."""
        location = _address.coerce(self.location(request))
        return Params.parse(_defaults.params(request, location))

    def init_session(self, session_id: str, request: Request) -> bool:
        """Initialises session ``session_id``, triggered by ``request`` (reference 5.7): the
        host's preset params or ``self.params(request)``, the init request, :func:`download`,
        then ``self.check(response, init_request)``. ``True`` adds the session to the pool.
        A custom chain may call :func:`download` several times."""
        preset = _defaults.preset_init_params(request)
        if preset is None:
            try:
                preset = to_json(self.params(request))
            except Exception as error:
                raise InitParamError(message_of(error)) from error
        try:
            init_request = _defaults.init_request(session_id, request, preset)
        except Err as error:
            raise InitParamError(error.value) from None
        try:
            response = download(init_request)
        except DownloadFailed as failed:
            raise InitDownloadError(failed.error) from None
        try:
            return bool(self.check(response, init_request))
        except ClosePool:
            raise
        except Exception as error:
            raise InitCheckError(message_of(error)) from error

    def check(self, response: Response, request: Request) -> bool:
        """Checks a successful Zyte API response to ``request`` (reference 5.8), with the location
        ``self.location(request)`` chose: an unsupported ``setLocation`` raises
        :class:`ClosePool` (``unsupported_set_location``); an init response with a ``returned``
        action is discarded; with a location, the first ``setLocation`` must have succeeded.
        ``request.is_init`` tells an init response from a use response.

        Answered here, without crossing to the host, when the body has no ``"actions"`` key
        text (every HTTP response): the default check then keeps the session whatever the
        location and the settings, as the host's own check does for the same bodies. An
        overridden ``location`` still runs first, so that what it raises is still this check's
        error. Otherwise (issue 17) the default costs two host calls, each copying the whole
        response and request across."""
        if not has_actions(response):
            if type(self).location is not SessionConfig.location:
                _address.coerce(self.location(request))
            return True
        location = _address.coerce(self.location(request))
        return verdict_to_bool(_defaults.check(response, request, location))

    def process_request(self, request: Request) -> Optional[Request]:
        """Called after a session is assigned to ``request`` and before it is sent (never for
        init requests): return a new request to replace it. Default: ``None``, no change
        (answered here: crossing to the host would copy the request twice for nothing)."""
        return None


class LocationSessionConfig(SessionConfig):
    """A :class:`SessionConfig` with location-specific init params and checks, like the
    reference's: when ``self.location(request)`` is not empty, ``params`` calls
    :meth:`location_params` and ``check`` calls :meth:`location_check`; otherwise both behave
    like ``SessionConfig``'s."""

    def params(self, request: Request) -> Dict[str, Any]:
        """:meth:`location_params` when the location is set, else the default params."""
        location = _address.coerce(self.location(request))
        if _address.is_empty(location):
            return super().params(request)
        return self.location_params(request, location)

    def check(self, response: Response, request: Request) -> bool:
        """:meth:`location_check` when the location is set, else the default check."""
        location = _address.coerce(self.location(request))
        if _address.is_empty(location):
            return super().check(response, request)
        return self.location_check(response, request, location)

    def location_params(self, request: Request, location: Address) -> Dict[str, Any]:
        """Init params for sessions with the non-empty ``location``. Default:
        ``SessionConfig.params`` (``browserHtml`` plus a ``setLocation`` action)."""
        return SessionConfig.params(self, request)

    def location_check(self, response: Response, request: Request, location: Address) -> bool:
        """Checks a response for a session with the non-empty ``location``. Default:
        ``SessionConfig.check``."""
        return SessionConfig.check(self, response, request)

