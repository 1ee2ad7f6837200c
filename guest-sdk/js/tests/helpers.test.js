// The SDK's pure helpers, checked against the Rust SDK's behaviour (same cases as its tests).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { addressFromJson, addressToJson, isEmptyAddress } from '../src/address.js';
import { ClosePool, messageOf } from '../src/errors.js';
import { addAction, paramsToJson, parseParams, setBrowserHtml, setHttpResponseBody, setLocationAction } from '../src/params.js';
import { copyRequest, header, removeHeader, setHeader } from '../src/request.js';
import { RawResponse } from '../src/response.js';
import { urlRules } from '../src/rules.js';
import { host, origin, percentEncode, withQueryParam } from '../src/url.js';

test('origin and host', () => {
  assert.equal(origin('https://a.example'), 'https://a.example');
  assert.equal(origin('https://a.example?x#y'), 'https://a.example');
  assert.equal(host('http://user:pw@a.example:81/p'), 'a.example');
  assert.equal(host('http://[::1]:8080/'), '[::1]');
  assert.equal(origin('not a url'), undefined);
});

test('query params are appended', () => {
  assert.equal(withQueryParam('https://a.example', 'k', 'v'), 'https://a.example?k=v');
  assert.equal(withQueryParam('https://a.example/?', 'k', 'v'), 'https://a.example/?k=v');
  assert.equal(withQueryParam('https://a.example/?a=1&', 'k', 'v'), 'https://a.example/?a=1&k=v');
  assert.equal(withQueryParam('https://a.example/p#f', 'k', '&='), 'https://a.example/p?k=%26%3D#f');
  assert.equal(percentEncode('é'), '%C3%A9');
});

test('params serialise like Rust', () => {
  const params = { url: 'https://shop.example/', browserHtml: true };
  addAction(params, setLocationAction({ postalCode: '10001', addressCountry: undefined }));
  assert.equal(
    paramsToJson(params),
    '{"actions":[{"action":"setLocation","address":{"postalCode":"10001"}}],"browserHtml":true,"url":"https://shop.example/"}',
  );
  assert.throws(() => parseParams('[1]'));
  assert.throws(() => parseParams('{'));
  assert.equal(paramsToJson(setHttpResponseBody({ browserHtml: true })), '{"httpResponseBody":true}');
  assert.deepEqual(setBrowserHtml({ browserHtml: true }, false), {});
});

test('raw responses', () => {
  const raw = RawResponse.parse(
    '{"statusCode": 403, "httpResponseBody": "PGI+aGk8L2I+", "actions": [{"action": "setLocation", "status": "success"}, {"status": "returned"}],' +
      ' "httpResponseHeaders": [{"name": "Content-Type", "value": "text/html"}], "responseCookies": [{"name": "sid", "value": "1"}, {"name": "broken"}]}',
  );
  assert.equal(raw.html(), '<b>hi</b>');
  assert.equal(raw.statusCode, 403);
  assert.ok(raw.setLocationResult().succeeded);
  assert.ok(raw.actionFailed());
  assert.equal(raw.responseHeader('content-type'), 'text/html');
  assert.deepEqual(raw.responseCookies().map((c) => c.name), ['sid']);
  assert.throws(() => RawResponse.parse('{"httpResponseBody": "!!"}').html());
  assert.throws(() => RawResponse.parse('[]'));
});

test('addresses, headers, rules, messages', () => {
  assert.ok(isEmptyAddress({}));
  assert.ok(!isEmptyAddress({ addressRegion: '' }));
  assert.deepEqual(addressToJson({ postalCode: '1', addressRegion: null }), { postalCode: '1' });
  assert.throws(() => addressFromJson({ postcode: '1' }));
  assert.throws(() => addressFromJson({ postalCode: 1 }));
  const request = { headers: [{ name: 'a', value: '1' }, { name: 'b', value: '2' }, { name: 'A', value: '3' }] };
  setHeader(request, 'A', 'x');
  assert.deepEqual(request.headers, [{ name: 'A', value: 'x' }, { name: 'b', value: '2' }]);
  assert.equal(header(request, 'a'), 'x');
  assert.ok(removeHeader(request, 'B'));
  assert.equal(urlRules(['a.example']).priority, 500);
  assert.equal(messageOf(new Error('bad')), 'bad');
  assert.equal(messageOf(new TypeError('x is undefined')), 'TypeError: x is undefined');
  assert.equal(messageOf(new ClosePool('why')), 'why');
  assert.equal(messageOf('thrown'), 'thrown');
});

test('issue_17 copyRequest copies every field, and the copy shares nothing with the original', () => {
  const request = {
    url: 'https://a.example/',
    method: 'GET',
    headers: [{ name: 'x-a', value: '1' }],
    params: '{"httpResponseBody":true}',
    controls: {
      enabled: true,
      cookieMode: undefined,
      params: '{}',
      location: { addressCountry: 'US', addressRegion: undefined, postalCode: '10001', streetAddress: undefined },
      pool: { id: 'p', size: 2, delay: 1.5, randomizeDelay: false },
    },
    sessionId: 's',
    isInit: false,
  };
  const copy = copyRequest(request);
  assert.deepEqual(copy, request);
  copy.headers[0].value = '2';
  copy.headers.push({ name: 'x-b', value: '3' });
  copy.controls.location.postalCode = '2';
  copy.controls.pool.size = 9;
  copy.controls.enabled = false;
  assert.deepEqual(request.headers, [{ name: 'x-a', value: '1' }]);
  assert.equal(request.controls.location.postalCode, '10001');
  assert.equal(request.controls.pool.size, 2);
  assert.equal(request.controls.enabled, true);
  const bare = { ...request, controls: { enabled: undefined, cookieMode: undefined, params: undefined, location: undefined, pool: undefined }, sessionId: undefined };
  assert.deepEqual(copyRequest(bare), bare);
});
