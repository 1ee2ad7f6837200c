"""Logging into the host's log, tagged by the host with the config and the hook.

Policy (from the WIT ``log`` interface): each message is truncated to 4 KiB and each hook call
may log at most 64 lines; the host drops and counts the rest. ``print`` also reaches the host's
log (stdout and stderr are captured, bounded), but without a level: prefer these functions.
"""

from wit_world.imports import log as _host
from wit_world.imports.types import Level

__all__ = ["Level", "log", "trace", "debug", "info", "warn", "error", "report_panic"]


def log(level: Level, message: str) -> None:
    """Writes ``message`` at ``level``."""
    _host.log(level, message)


def trace(message: str) -> None:
    """Writes ``message`` at ``TRACE``."""
    _host.log(Level.TRACE, message)


def debug(message: str) -> None:
    """Writes ``message`` at ``DEBUG``."""
    _host.log(Level.DEBUG, message)


def info(message: str) -> None:
    """Writes ``message`` at ``INFO``."""
    _host.log(Level.INFO, message)


def warn(message: str) -> None:
    """Writes ``message`` at ``WARN``."""
    _host.log(Level.WARN, message)


def error(message: str) -> None:
    """Writes ``message`` at ``ERROR``."""
    _host.log(Level.ERROR, message)


def report_panic(message: str) -> None:
    """Tells the host why the guest is about to trap; the SDK's export adapter calls it for an
    exception that cannot become an ``err`` (one raised by ``rules``)."""
    _host.report_panic(message)
