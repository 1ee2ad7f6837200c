"""Test guest (issue 12): a config whose ``rules`` sleeps for a million seconds (a WASI poll on
the monotonic clock), so that loading it never finishes unless the host bounds the call."""

import time

from session_host_sdk import SessionConfig, export, rules


class SleepyRules(SessionConfig):
    def rules(self):
        time.sleep(10**6)
        return rules(["sleepy-rules.example"])


WitWorld = export(SleepyRules)
