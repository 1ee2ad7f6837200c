"""A tiny Scrapy spider for `tests/e2e/clients.rs`: a real Scrapy + scrapy-zyte-api client of
the session-host gateway.

Run it with `scrapy runspider` and pass the gateway as `-s ZYTE_API_URL=http://HOST:PORT/v1/`,
its key as `ZYTE_API_KEY`, and the pages as `-a urls=URL,URL,...`. scrapy-zyte-api runs in
transparent mode (every request goes through Zyte API, here the gateway) with its own session
management left off: the gateway manages sessions. One item per page, with what tells whether the
site's requirements were met.
"""

import scrapy


class GatewaySpider(scrapy.Spider):
    name = "gateway"
    custom_settings = {
        # scrapy-zyte-api's add-on: its download handlers, middlewares and request fingerprinter,
        # and transparent mode. ZYTE_API_SESSION_ENABLED stays False (its default).
        "ADDONS": {"scrapy_zyte_api.Addon": 500},
        "ZYTE_API_TRANSPARENT_MODE": True,
        "ZYTE_API_SESSION_ENABLED": False,
        "ROBOTSTXT_OBEY": False,
        "TELNETCONSOLE_ENABLED": False,
        # Keep the crawl to seconds and its outcome to what the gateway answered.
        "RETRY_ENABLED": False,
        "DOWNLOAD_TIMEOUT": 60,
        "CONCURRENT_REQUESTS": 4,
        # Report pages the site refused (e.g. 403) as items too, so the test sees them.
        "HTTPERROR_ALLOW_ALL": True,
    }

    def __init__(self, urls="", *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.start_urls = [url for url in urls.split(",") if url]

    def parse(self, response):
        yield {
            "url": response.url,
            "status": response.status,
            "blocked": "blocked" in response.text.lower(),
            "location": response.css("#location::text").get(),
            "title": response.css("title::text").get(),
        }
