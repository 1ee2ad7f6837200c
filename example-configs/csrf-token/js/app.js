/**
 * Example session config for `csrf.example`, in JavaScript: a CSRF token found at session
 * initialisation is sent with every request of the session.
 *
 * It behaves exactly like the Rust example (`../src/lib.rs`, which documents the site and each
 * hook); `host/tests/all/conformance.rs` checks that the two agree.
 *
 * - `params`: initialise on the site's home page with a cheap HTTP request
 *   (`httpResponseBody`), whatever URL triggered the init.
 * - `check`: the default check first. On the init response, store the token of the
 *   `<input name="csrf_token">` element in session data; no token fails the check. On a use
 *   response, statusCode 403 discards the session.
 * - `processRequest`: add the token as the `x-csrf-token` header to HTTP requests, or as the
 *   `csrf` query parameter to browser requests (Zyte API sends custom headers only with
 *   `httpResponseBody`).
 * @module
 */

import {
  RawResponse,
  SessionConfig,
  copyRequest,
  exportConfig,
  log,
  requestParams,
  sessionData,
  setHeader,
  url,
  urlRules,
} from '../../../guest-sdk/js/src/index.js';

/** The domain this config handles. */
export const DOMAIN = 'csrf.example';
/** The session-data key of the token. */
export const TOKEN_KEY = 'csrf_token';
/** The header carrying the token on HTTP (`httpResponseBody`) requests. */
export const TOKEN_HEADER = 'x-csrf-token';
/** The query parameter carrying the token on other requests. */
export const TOKEN_QUERY = 'csrf';
/** The `name` of the form input holding the token on the home page. */
const TOKEN_INPUT = 'csrf_token';
/** The site's statusCode for a missing or wrong token. */
const FORBIDDEN = 403;

/** The config. Stateless: the token lives in session data. */
class CsrfToken extends SessionConfig {
  /** Only `csrf.example`. */
  rules() {
    return urlRules([DOMAIN]);
  }

  /** An HTTP request for the home page. */
  params(request) {
    return initParams(request.url);
  }

  /** The default check, then the token (init) or the site's 403 (use). */
  check(response, request) {
    if (!super.check(response, request)) return false;
    const raw = RawResponse.fromResponse(response);
    if (!request.isInit) return raw.statusCode !== FORBIDDEN;
    let html;
    try {
      html = raw.html();
    } catch (error) {
      throw new Error(`init response body: ${error.message}`);
    }
    const token = html === undefined ? undefined : extractToken(html);
    if (token === undefined) {
      log.warn(`no CSRF token in the init response from ${raw.url ?? request.url}`);
      return false;
    }
    sessionData.set(TOKEN_KEY, token);
    log.info(`CSRF token stored for session ${request.sessionId ?? '?'}`);
    return true;
  }

  /** The request with the session's token, or `undefined` when the session has none. */
  processRequest(request) {
    const token = sessionData.get(TOKEN_KEY);
    if (token === undefined) {
      log.warn(`session ${request.sessionId ?? '?'} has no CSRF token`);
      return undefined;
    }
    return withToken(request, token);
  }
}

/**
 * Init params: an HTTP request for the home page of `pageUrl`'s origin.
 * @param {string} pageUrl
 */
export function initParams(pageUrl) {
  const origin = url.origin(pageUrl);
  if (origin === undefined) throw new Error(`cannot find the origin of ${JSON.stringify(pageUrl)}`);
  return { url: `${origin}/`, httpResponseBody: true };
}

/**
 * The token: the `value` attribute of the `<input>` whose `name` is `csrf_token`.
 * @param {string} html
 * @returns {string | undefined}
 */
export function extractToken(html) {
  const nameAt = html.indexOf(`name="${TOKEN_INPUT}"`);
  if (nameAt < 0) return undefined;
  const tagStart = html.lastIndexOf('<', nameAt);
  const tagEnd = html.indexOf('>', nameAt);
  if (tagStart < 0 || tagEnd < 0) return undefined;
  const value = html.slice(tagStart, tagEnd).split(' value="')[1]?.split('"')[0];
  return value ? value : undefined;
}

/**
 * A copy of `request` carrying `token`: as a header when it is an HTTP request, else in the
 * query.
 * @param {object} request
 * @param {string} token
 */
export function withToken(request, token) {
  const copy = copyRequest(request);
  if (requestParams(copy).httpResponseBody === true) setHeader(copy, TOKEN_HEADER, token);
  else copy.url = url.withQueryParam(copy.url, TOKEN_QUERY, token);
  return copy;
}

export const { rules, overrides, enabled, cookieMode, pool, location, params, initSession, check, processRequest } =
  exportConfig(CsrfToken);
