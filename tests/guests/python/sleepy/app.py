"""Test guest (issue 12): a config that blocks in WASI, the way a Python author would wait, or
returns 10 MB.

Every hook but ``rules`` calls ``time.sleep`` for a million seconds (a WASI ``poll`` on a
monotonic-clock subscription, which uses no guest CPU) when the request URL's path names it,
e.g. ``https://sleepy.example/check``. When the path is ``/huge/`` and the hook's name (e.g.
``https://sleepy.example/huge/pool``), the hook returns a 10 MB string instead: as the pool id,
a location field, a params value, the URL of the request it returns, a ``ClosePool`` reason or
an ``InitFailed`` message. Otherwise it answers like the default config.
"""

import time

from session_host_sdk import ClosePool, InitFailed, SessionConfig, export, rules

#: The domain this config claims.
DOMAIN = "sleepy.example"


def nap(hook, request):
    """Sleeps (practically) forever when ``request`` names ``hook``."""
    if request.url.endswith("/" + hook) and not huge(hook, request):
        time.sleep(10**6)


def huge(hook, request):
    """Whether ``request`` asks ``hook`` for a 10 MB answer."""
    return request.url.endswith("/huge/" + hook)


def big():
    """10 MB of text."""
    return "x" * (10 << 20)


class Sleepy(SessionConfig):
    def rules(self):
        return rules([DOMAIN])

    def enabled(self, request):
        nap("enabled", request)
        return super().enabled(request)

    def cookie_mode(self, request):
        nap("cookie-mode", request)
        return super().cookie_mode(request)

    def pool(self, request):
        nap("pool", request)
        if huge("pool", request):
            return big()
        return super().pool(request)

    def location(self, request):
        nap("location", request)
        if huge("location", request):
            return {"addressCountry": big()}
        return super().location(request)

    def params(self, request):
        nap("params", request)
        if huge("params", request):
            return {"huge": big()}
        return super().params(request)

    def init_session(self, session_id, request):
        nap("init-session", request)
        if huge("init-session", request):
            raise InitFailed(big())
        return super().init_session(session_id, request)

    def check(self, response, request):
        nap("check", request)
        if huge("check", request):
            raise ClosePool(big())
        return super().check(response, request)

    def process_request(self, request):
        nap("process-request", request)
        if huge("process-request", request):
            request.url = big()
            return request
        return super().process_request(request)


WitWorld = export(Sleepy)
