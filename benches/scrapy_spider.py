"""The Scrapy side of `benches/run-vs-wrk`: scrapy-zyte-api with its own session management on,
straight against the mock, the same URLs and concurrency as `session-host run`.

Run: `scrapy runspider benches/scrapy_spider.py -a urls=FILE -a count=FILE -s ZYTE_API_URL=URL`,
with the key in ZYTE_API_KEY. It yields no items (only the client's work per request is
measured) and writes the number of pages it got to the `count` file when it closes.
"""

import scrapy


class BenchSpider(scrapy.Spider):
    name = "bench"
    custom_settings = {
        "ADDONS": {"scrapy_zyte_api.Addon": 500},
        "ZYTE_API_TRANSPARENT_MODE": True,
        "ZYTE_API_SESSION_ENABLED": True,
        "ZYTE_API_SESSION_POOL_SIZE": 16,
        "ZYTE_API_SESSION_RANDOMIZE_DELAY": False,
        "CONCURRENT_REQUESTS": 64,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 64,
        "ROBOTSTXT_OBEY": False,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "WARNING",
        "RETRY_ENABLED": False,
        "HTTPERROR_ALLOW_ALL": True,
    }

    def __init__(self, urls="", count="", *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.count_file = count
        self.pages = 0
        with open(urls, encoding="utf-8") as lines:
            self.start_urls = [line.strip() for line in lines if line.strip()]

    def parse(self, response):
        self.pages += 1
        return []

    def closed(self, reason):
        if self.count_file:
            with open(self.count_file, "w", encoding="utf-8") as out:
                out.write(f"{self.pages}\n")
