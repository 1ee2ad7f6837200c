"""Exporting a :class:`~session_host_sdk.SessionConfig` subclass as the component's
``session-config`` world: :func:`export`.

Policy:

- componentize-py calls the class named ``WitWorld`` in the app module, so a config module ends
  with ``WitWorld = export(MyConfig)``.
- ``overrides`` declares the methods the config class defines (:func:`overrides_of`, comparing
  them with :class:`SessionConfig`'s), so that the host skips the others.
- The config object is built afresh (``MyConfig()``) for every hook call, so building it must be
  cheap and it can hold no state between calls.
- Return values are converted to the WIT types here (``params`` is serialised with sorted keys,
  so a config cannot return invalid JSON), and exceptions to the hook's ``err``
  (:mod:`session_host_sdk.errors`). ``rules`` has no ``err``: an exception there is reported
  with ``log.report-panic`` and then traps, which fails the load; so does any ``BaseException``
  that is not an ``Exception``.
"""

import traceback
from typing import Any, Callable, Optional, Type, TypeVar

from componentize_py_types import Err
from wit_world import WitWorld as _WitWorld
from wit_world.imports.types import (
    Hooks,
    InitError_CheckError,
    InitError_ClosePool,
    InitError_Download,
    InitError_Failed,
    InitError_ParamError,
    PoolSpec,
    Request,
    UrlRules,
    Verdict,
    Verdict_ClosePool,
    Verdict_Discard,
    Verdict_Keep,
)

from . import address as _address
from .config import SessionConfig
from .errors import ClosePool, InitCheckError, InitDownloadError, InitParamError, message_of
from .log import report_panic
from .params import to_json

__all__ = ["export", "overrides_of", "to_pool_spec", "to_verdict"]

T = TypeVar("T")

# The world's hooks (``rules`` excepted) as (method name, flag of the WIT ``hooks`` flags).
_HOOKS = (
    ("enabled", Hooks.ENABLED),
    ("cookie_mode", Hooks.COOKIE_MODE),
    ("pool", Hooks.POOL),
    ("location", Hooks.LOCATION),
    ("params", Hooks.PARAMS),
    ("init_session", Hooks.INIT_SESSION),
    ("check", Hooks.CHECK),
    ("process_request", Hooks.PROCESS_REQUEST),
)


def overrides_of(config: Type[SessionConfig]) -> Hooks:
    """The hooks ``config`` overrides: the methods it (or a base class other than
    :class:`SessionConfig`, such as :class:`LocationSessionConfig`) defines. The host answers
    the others itself, exactly as the defaults would (WIT 0.1.1 ``overrides``)."""
    declared = Hooks(0)
    for name, flag in _HOOKS:
        if getattr(config, name) is not getattr(SessionConfig, name):
            declared |= flag
    return declared


def to_pool_spec(value: Any) -> PoolSpec:
    """A WIT ``pool-spec`` from a ``pool`` result: a ``PoolSpec``, a pool id ``str``, or a
    ``dict`` like the reference's (``id``, optional ``size``, ``delay``, ``randomize_delay``)."""
    if isinstance(value, PoolSpec):
        return value
    if isinstance(value, str):
        return PoolSpec(value, None, None, None)
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        delay = value.get("delay")
        return PoolSpec(value["id"], value.get("size"), None if delay is None else float(delay), value.get("randomize_delay"))
    raise ValueError(f"pool() must return a str, a dict with an 'id' or a PoolSpec, not {value!r}")


def to_verdict(value: Any) -> Verdict:
    """A WIT ``verdict`` from a ``check`` result: a ``bool`` or a ``Verdict``."""
    if isinstance(value, (Verdict_Keep, Verdict_Discard, Verdict_ClosePool)):
        return value
    if isinstance(value, bool):
        return Verdict_Keep() if value else Verdict_Discard()
    raise ValueError(f"check() must return a bool, not {value!r}")


def _trap(error: BaseException) -> None:
    report_panic("".join(traceback.format_exception(error)).strip())


def _call(hook: Callable[[], T]) -> T:
    """Runs a hook whose WIT result has a ``string`` error."""
    try:
        return hook()
    except Exception as error:
        raise Err(message_of(error)) from None
    except BaseException as error:
        _trap(error)
        raise


def _init_error(error: Exception) -> Any:
    if isinstance(error, ClosePool):
        return InitError_ClosePool(error.reason)
    if isinstance(error, InitParamError):
        return InitError_ParamError(message_of(error))
    if isinstance(error, InitCheckError):
        return InitError_CheckError(message_of(error))
    if isinstance(error, InitDownloadError):
        return InitError_Download(error.error)
    return InitError_Failed(message_of(error))


def export(config: Type[SessionConfig]) -> type:
    """The ``WitWorld`` class that componentize-py exports, running the hooks of ``config`` (a
    :class:`SessionConfig` subclass). Use it once, at the end of the app module:
    ``WitWorld = export(MyConfig)``."""

    class WitWorld(_WitWorld):
        def rules(self) -> UrlRules:
            try:
                return config().rules()
            except BaseException as error:
                _trap(error)
                raise

        def overrides(self) -> Hooks:
            return overrides_of(config)

        def enabled(self, request: Request) -> bool:
            return _call(lambda: bool(config().enabled(request)))

        def cookie_mode(self, request: Request) -> bool:
            return _call(lambda: bool(config().cookie_mode(request)))

        def pool(self, request: Request) -> PoolSpec:
            return _call(lambda: to_pool_spec(config().pool(request)))

        def location(self, request: Request) -> Any:
            return _call(lambda: _address.coerce(config().location(request)))

        def params(self, request: Request) -> str:
            return _call(lambda: _params_json(config().params(request)))

        def init_session(self, session_id: str, request: Request) -> bool:
            try:
                return bool(config().init_session(session_id, request))
            except Exception as error:
                raise Err(_init_error(error)) from None
            except BaseException as error:
                _trap(error)
                raise

        def check(self, response: Any, request: Request) -> Verdict:
            def run() -> Verdict:
                try:
                    return to_verdict(config().check(response, request))
                except ClosePool as close:
                    return Verdict_ClosePool(close.reason)

            return _call(run)

        def process_request(self, request: Request) -> Optional[Request]:
            return _call(lambda: config().process_request(request))

    WitWorld.__name__ = WitWorld.__qualname__ = "WitWorld"
    WitWorld.__doc__ = f"The exported hooks of {config.__name__}."
    return WitWorld


def _params_json(value: Any) -> str:
    if not isinstance(value, dict):
        raise ValueError(f"params() must return a dict, not {type(value).__name__}")
    return to_json(value)
