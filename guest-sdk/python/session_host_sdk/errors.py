"""The exceptions a config raises to give the host a specific outcome, and how any other
exception is reported.

Policy: a hook that raises is the reference's hook raising: the host counts and reports it like
the reference does for that hook (``check`` → ``use/check-error``, ``params`` →
``init/param-error``, ``pool`` → the ``pool_error`` close reason). The message the host sees is
:func:`message_of` the exception. Two exceptions mean more than "failed":

- :class:`ClosePool` (the reference's ``CloseSpider``) from ``check`` or ``init_session`` closes
  the pool with its reason;
- the :class:`InitError` subclasses from ``init_session`` pick the init outcome (reference 5.7);
  any other exception there is ``init/failed``.
"""

from typing import Optional

from wit_world.imports.types import DownloadError

__all__ = [
    "ClosePool",
    "InitError",
    "InitParamError",
    "InitCheckError",
    "InitDownloadError",
    "InitFailed",
    "DownloadFailed",
    "message_of",
]


class ClosePool(Exception):
    """Stop using this pool: it is closed with ``reason`` (the reference's ``CloseSpider``)."""

    def __init__(self, reason: str):
        """Closes the pool with ``reason``."""
        super().__init__(reason)
        #: The close reason.
        self.reason = reason


class InitError(Exception):
    """Base class of the init outcomes other than a failed check (``return False``)."""


class InitParamError(InitError):
    """Computing the init parameters failed (``init/param-error``)."""


class InitCheckError(InitError):
    """Checking the init response failed (``init/check-error``)."""


class InitFailed(InitError):
    """Any other failure of the init chain (``init/failed``)."""


class DownloadFailed(Exception):
    """:func:`session_host_sdk.download` did not produce a response."""

    def __init__(self, error: DownloadError):
        """Wraps the WIT ``download-error``."""
        super().__init__(describe_download_error(error))
        #: The WIT ``download-error``: ``DownloadError_Api`` (``.value`` is the ``ApiError``),
        #: ``DownloadError_Transport`` or ``DownloadError_Refused`` (``.value`` is the text).
        self.error = error

    @property
    def problem_type(self) -> Optional[str]:
        """The Zyte API problem type, for an API error that has one."""
        return getattr(self.error.value, "problem_type", None)


class InitDownloadError(InitError):
    """A download of the init chain failed; the host classifies it (``init/failed``, or a retry
    for ``/problem/over-session-limit`` and ``/problem/session-creation-error``)."""

    def __init__(self, error: DownloadError):
        """Wraps the WIT ``download-error``."""
        super().__init__(describe_download_error(error))
        #: The WIT ``download-error``.
        self.error = error


def describe_download_error(error: DownloadError) -> str:
    """A one-line description of a ``download-error``."""
    value = error.value
    if hasattr(value, "status"):
        return f"Zyte API answered {value.status} {value.problem_type or ''}".rstrip()
    return str(value)


def message_of(error: BaseException) -> str:
    """The text the host receives for ``error``: ``str(error)`` for a ``ValueError`` or one of
    this SDK's exceptions (the convention for a config's own errors), else
    ``"TypeName: str(error)"`` so that an unexpected ``KeyError`` stays recognisable."""
    if isinstance(error, (ValueError, ClosePool, InitError, DownloadFailed)) and str(error):
        return str(error)
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
