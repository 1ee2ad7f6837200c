"""Test guest (issue 12): a config that blocks in WASI, the way a Python author would wait.

Every hook but ``rules`` calls ``time.sleep`` for a million seconds (a WASI ``poll`` on a
monotonic-clock subscription, which uses no guest CPU) when the request URL's path names it,
e.g. ``https://sleepy.example/check``; otherwise it answers like the default config.
"""

import time

from session_host_sdk import SessionConfig, export, rules

#: The domain this config claims.
DOMAIN = "sleepy.example"


def nap(hook, request):
    """Sleeps (practically) forever when ``request`` names ``hook``."""
    if request.url.endswith("/" + hook):
        time.sleep(10**6)


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
        return super().pool(request)

    def location(self, request):
        nap("location", request)
        return super().location(request)

    def params(self, request):
        nap("params", request)
        return super().params(request)

    def init_session(self, session_id, request):
        nap("init-session", request)
        return super().init_session(session_id, request)

    def check(self, response, request):
        nap("check", request)
        return super().check(response, request)

    def process_request(self, request):
        nap("process-request", request)
        return super().process_request(request)


WitWorld = export(Sleepy)
