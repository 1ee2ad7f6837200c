"""The session config ``{{name}}``: Zyte API session management for {{site}}.

Every hook is listed below. A hook left commented out behaves exactly like the default, which
is what the commented-out body calls (``super()``): uncomment one and change it. Build with
``session-host plugin build``, then watch it work with
``session-host plugin trace https://{{site}}/ --configs dist`` and ``session-host plugin test``.
"""

from session_host_sdk import SessionConfig, export, rules


class Config(SessionConfig):
    """The config. Keep no state in it: the host reuses and recycles instances; state that must
    outlive a call goes into ``session_host_sdk.session_data``."""

    def rules(self):
        """The URLs this config handles."""
        return rules(["{{site}}"])

    # def enabled(self, request):
    #     """Whether session management applies to ``request``."""
    #     return super().enabled(request)

    # def cookie_mode(self, request):
    #     """Whether sessions are cookie jars kept by the host."""
    #     return super().cookie_mode(request)

    # def pool(self, request):
    #     """The pool ``request`` goes to."""
    #     return super().pool(request)

    # def location(self, request):
    #     """The location sessions are initialised with (empty: none)."""
    #     return super().location(request)

    # def params(self, request):
    #     """Session initialisation parameters (may hold ``url``, the init URL)."""
    #     return super().params(request)

    # def init_session(self, session_id, request):
    #     """Initialises a session; ``True`` adds it to the pool."""
    #     return super().init_session(session_id, request)

    # def check(self, response, request):
    #     """Checks a response: ``True`` keeps the session, ``False`` discards it."""
    #     return super().check(response, request)

    # def process_request(self, request):
    #     """Changes a request before it is sent (a request replaces it, ``None`` keeps it)."""
    #     return super().process_request(request)


WitWorld = export(Config)
