/**
 * Helpers on requests (the WIT `request` record: `{url, method, headers, params, controls,
 * sessionId, isInit}`): headers, typed params, the URL's host, and copying.
 *
 * Policy: header names compare case-insensitively and keep the case they were given. Zyte API
 * sends only the last value of a repeated `customHttpRequestHeaders` name, so {@link header}
 * returns the last match and {@link setHeader} leaves exactly one. The host writes `headers` back
 * to `customHttpRequestHeaders`, which Zyte API accepts only with `httpResponseBody`. The
 * functions that change a request change it in place; {@link copyRequest} first when the
 * original must stay as it is.
 * @module
 */

import { host as urlHost } from './url.js';
import { paramsToJson, parseParams } from './params.js';

/**
 * A deep copy of `request`, a WIT request: its headers, controls, location and pool are new
 * objects, and its other fields are strings and booleans. Copied field by field rather than
 * through JSON text (`JSON.parse(JSON.stringify(request))` before issue 17), which cost about
 * 3 µs more per call in StarlingMonkey's interpreter; absent options stay `undefined`.
 * @template {{headers: object[], controls: object}} T
 * @param {T} request
 * @returns {T}
 */
export function copyRequest(request) {
  const { controls } = request;
  return {
    url: request.url,
    method: request.method,
    headers: request.headers.map((h) => ({ name: h.name, value: h.value })),
    params: request.params,
    controls: {
      enabled: controls.enabled,
      cookieMode: controls.cookieMode,
      params: controls.params,
      location: controls.location && { ...controls.location },
      pool: controls.pool && { ...controls.pool },
    },
    sessionId: request.sessionId,
    isInit: request.isInit,
  };
}

/**
 * The value of header `name` (case-insensitive), the last one if it repeats.
 * @param {{headers: {name: string, value: string}[]}} request
 * @param {string} name
 * @returns {string | undefined}
 */
export function header(request, name) {
  const wanted = name.toLowerCase();
  return request.headers.findLast((h) => h.name.toLowerCase() === wanted)?.value;
}

/**
 * Sets header `name` to `value`: replaces the first header with that name (keeping its
 * position, taking the new name's case) and removes any other; appends it when absent.
 * @param {{headers: {name: string, value: string}[]}} request Changed in place.
 * @param {string} name
 * @param {string} value
 */
export function setHeader(request, name, value) {
  const wanted = name.toLowerCase();
  const first = request.headers.findIndex((h) => h.name.toLowerCase() === wanted);
  if (first < 0) {
    request.headers.push({ name, value });
    return;
  }
  request.headers = request.headers.filter((h, i) => i <= first || h.name.toLowerCase() !== wanted);
  request.headers[first] = { name, value };
}

/**
 * Removes every header named `name`; returns whether there was one.
 * @param {{headers: {name: string, value: string}[]}} request Changed in place.
 * @param {string} name
 * @returns {boolean}
 */
export function removeHeader(request, name) {
  const before = request.headers.length;
  request.headers = request.headers.filter((h) => h.name.toLowerCase() !== name.toLowerCase());
  return request.headers.length !== before;
}

/**
 * The request's Zyte API params (`request.params` parsed; it never holds `url`).
 * @param {{params: string}} request
 * @returns {Record<string, unknown>}
 */
export function requestParams(request) {
  return parseParams(request.params);
}

/**
 * Replaces the request's params.
 * @param {{params: string}} request Changed in place.
 * @param {Record<string, unknown>} params
 */
export function setRequestParams(request, params) {
  request.params = paramsToJson(params);
}

/**
 * The URL's host, as written.
 * @param {{url: string}} request
 * @returns {string | undefined}
 */
export function requestHost(request) {
  return urlHost(request.url);
}

/**
 * Whether the request asks for `browserHtml`; unparsable params count as not.
 * @param {{params: string}} request
 * @returns {boolean}
 */
export function isBrowserRequest(request) {
  try {
    return requestParams(request).browserHtml === true;
  } catch {
    return false;
  }
}
