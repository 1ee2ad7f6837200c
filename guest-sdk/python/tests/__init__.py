"""Native unit tests of the Python SDK (run with ``guest-sdk/python/test``)."""
