"""The SDK's pure helpers, checked against the Rust SDK's behaviour (same cases as its tests)."""

import importlib.util
import pathlib
import unittest

from session_host_sdk import Params, RawResponse, address, request as req, rules, set_location_action, url
from session_host_sdk.errors import ClosePool, message_of
from session_host_sdk.export import to_pool_spec, to_verdict
from wit_world.imports.types import Header, PoolSpec, Request, SessionControls, Verdict_ClosePool, Verdict_Discard, Verdict_Keep

EXAMPLES = pathlib.Path(__file__).resolve().parents[3] / "example-configs"


def load_example(name):
    """Imports ``example-configs/NAME/python/app.py`` under a unique module name."""
    spec = importlib.util.spec_from_file_location(f"{name}_app", EXAMPLES / name / "python" / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def request(url_text, params="{}"):
    return Request(url_text, "GET", [], params, SessionControls(None, None, None, None, None), None, False)


class UrlTests(unittest.TestCase):
    def test_origin_and_host(self):
        self.assertEqual(url.origin("https://a.example"), "https://a.example")
        self.assertEqual(url.origin("https://a.example?x#y"), "https://a.example")
        self.assertEqual(url.host("http://user:pw@a.example:81/p"), "a.example")
        self.assertEqual(url.host("http://[::1]:8080/"), "[::1]")
        self.assertIsNone(url.origin("not a url"))

    def test_query_params_are_appended(self):
        self.assertEqual(url.with_query_param("https://a.example", "k", "v"), "https://a.example?k=v")
        self.assertEqual(url.with_query_param("https://a.example/?", "k", "v"), "https://a.example/?k=v")
        self.assertEqual(url.with_query_param("https://a.example/?a=1&", "k", "v"), "https://a.example/?a=1&k=v")
        self.assertEqual(url.with_query_param("https://a.example/p#f", "k", "&="), "https://a.example/p?k=%26%3D#f")
        self.assertEqual(url.percent_encode("é"), "%C3%A9")


class ParamsTests(unittest.TestCase):
    def test_parse_accepts_only_objects(self):
        self.assertEqual(Params.parse("{}"), {})
        with self.assertRaises(ValueError):
            Params.parse("[1]")
        with self.assertRaises(ValueError):
            Params.parse("{")

    def test_serialises_like_rust(self):
        params = Params(url="https://shop.example/", browserHtml=True)
        params.add_action(set_location_action(address.address(postal_code="10001")))
        expected = '{"actions":[{"action":"setLocation","address":{"postalCode":"10001"}}],"browserHtml":true,"url":"https://shop.example/"}'
        self.assertEqual(params.to_json(), expected)

    def test_outputs_are_exclusive(self):
        params = Params(browserHtml=True)
        self.assertEqual(params.set_http_response_body().to_json(), '{"httpResponseBody":true}')
        self.assertEqual(params.set_browser_html().to_json(), '{"browserHtml":true}')
        self.assertEqual(params.set_browser_html(False), {})


class ResponseTests(unittest.TestCase):
    def test_body_and_actions(self):
        raw = RawResponse.parse('{"httpResponseBody": "PGI+aGk8L2I+", "actions": [{"action": "setLocation", "status": "success"}, {"status": "returned"}]}')
        self.assertEqual(raw.html(), "<b>hi</b>")
        self.assertTrue(raw.set_location_result().succeeded)
        self.assertTrue(raw.action_failed())
        with self.assertRaises(ValueError):
            RawResponse.parse('{"httpResponseBody": "!!"}').html()
        with self.assertRaises(ValueError):
            RawResponse.parse("[]")

    def test_cookies_headers_and_status(self):
        raw = RawResponse.parse('{"statusCode": 403, "httpResponseHeaders": [{"name": "Content-Type", "value": "text/html"}], "responseCookies": [{"name": "sid", "value": "1"}, {"name": "broken"}]}')
        self.assertEqual(raw.status_code, 403)
        self.assertEqual(raw.response_header("content-type"), "text/html")
        self.assertEqual([c.name for c in raw.response_cookies()], ["sid"])


class AddressAndRequestTests(unittest.TestCase):
    def test_address(self):
        self.assertTrue(address.is_empty(address.address()))
        self.assertFalse(address.is_empty(address.address(region="")))
        self.assertEqual(address.from_json({"postalCode": "1"}).postal_code, "1")
        for bad in ({"postcode": "1"}, {"postalCode": 1}, ["1"]):
            with self.assertRaises(ValueError):
                address.from_json(bad)

    def test_headers_keep_the_first_position(self):
        r = request("https://a.example/")
        r.headers = [Header("a", "1"), Header("b", "2"), Header("A", "3")]
        req.set_header(r, "A", "x")
        self.assertEqual([(h.name, h.value) for h in r.headers], [("A", "x"), ("b", "2")])
        self.assertEqual(req.header(r, "a"), "x")
        self.assertTrue(req.remove_header(r, "B"))

    def test_conversions(self):
        self.assertEqual(to_pool_spec("p"), PoolSpec("p", None, None, None))
        self.assertEqual(to_pool_spec({"id": "p", "size": 2, "delay": 1}), PoolSpec("p", 2, 1.0, None))
        self.assertEqual(to_verdict(True), Verdict_Keep())
        self.assertEqual(to_verdict(False), Verdict_Discard())
        self.assertEqual(to_verdict(Verdict_ClosePool("x")), Verdict_ClosePool("x"))
        self.assertEqual(rules(["a.example"]).priority, 500)
        self.assertEqual(message_of(ValueError("bad")), "bad")
        self.assertEqual(message_of(KeyError("k")), "KeyError: 'k'")
        self.assertEqual(message_of(ClosePool("why")), "why")


class ExampleTests(unittest.TestCase):
    def test_csrf_token(self):
        csrf = load_example("csrf-token")
        home = '<form><input type="hidden" name="csrf_token" value="0123456789abcdef">\n<input name="q"></form>'
        self.assertEqual(csrf.extract_token(home), "0123456789abcdef")
        self.assertEqual(csrf.extract_token('<input value="v1" name="csrf_token">'), "v1")
        self.assertIsNone(csrf.extract_token('<input name="csrf_token" value="">'))
        self.assertEqual(csrf.init_params("https://csrf.example/search?q=a").to_json(), '{"httpResponseBody":true,"url":"https://csrf.example/"}')
        sent = csrf.with_token(request("https://csrf.example/s?q=a", '{"browserHtml":true}'), "t0k")
        self.assertEqual(sent.url, "https://csrf.example/s?q=a&csrf=t0k")

    def test_location(self):
        location = load_example("location")
        self.assertEqual(location.domain_postal_code("postal-code-10001.example"), "10001")
        self.assertIsNone(location.domain_postal_code("postal-code-.example"))
        self.assertIsNone(location.domain_postal_code("www.postal-code-10001.example"))
        self.assertEqual(location.banner('<div id="location">Delivering to 10001</div>'), (location.POSTAL_CODE, "10001"))
        self.assertEqual(location.banner('<div id="location">No location selected</div>')[0], location.NO_LOCATION)
        wanted = address.address(postal_code="10001")
        self.assertFalse(location.matches((location.POSTAL_CODE, "94105"), wanted))
        self.assertTrue(location.matches((location.NO_BANNER, None), wanted))


if __name__ == "__main__":
    unittest.main()


class OverridesTest(unittest.TestCase):
    """Issue 17: the hooks a config declares are the methods it defines."""

    def test_issue_17_overrides_are_the_methods_a_config_class_defines(self):
        from session_host_sdk import LocationSessionConfig, SessionConfig
        from session_host_sdk.export import overrides_of
        from wit_world.imports.types import Hooks

        class Plain(SessionConfig):
            pass

        class Checks(SessionConfig):
            def check(self, response, request):
                return True

        class Located(LocationSessionConfig):
            pass

        self.assertEqual(overrides_of(Plain), Hooks(0))
        self.assertEqual(overrides_of(Checks), Hooks.CHECK)
        self.assertEqual(overrides_of(Located), Hooks.PARAMS | Hooks.CHECK)
        csrf = load_example("csrf-token")
        declared = overrides_of(csrf.CsrfToken)
        self.assertEqual(declared, Hooks.PARAMS | Hooks.CHECK | Hooks.PROCESS_REQUEST)


class CopyTests(unittest.TestCase):
    def test_copy_is_deep_and_equal(self):
        from wit_world.imports.types import Address, PoolSpec

        original = request("https://a.example/", '{"httpResponseBody":true}')
        original.headers.append(Header("a", "1"))
        original.controls.location = Address("US", None, "10001", None)
        original.controls.pool = PoolSpec("p", 2, None, None)
        copied = req.copy(original)
        self.assertEqual(copied, original)
        copied.headers.append(Header("b", "2"))
        copied.headers[0].value = "x"
        copied.controls.location.postal_code = "x"
        copied.controls.pool.id = "x"
        self.assertEqual((len(original.headers), original.headers[0].value), (1, "1"))
        self.assertEqual((original.controls.location.postal_code, original.controls.pool.id), ("10001", "p"))
