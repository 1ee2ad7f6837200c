/**
 * Minimal URL helpers for the absolute `http(s)` URLs that Zyte API requests carry.
 *
 * Policy: string operations that behave exactly like the Rust SDK's `url` module (so a config
 * ported between languages builds the same URLs), not a full URL parser. They understand
 * `scheme://authority/path?query#fragment` and return `undefined` for anything without `://`.
 * Hosts are returned as written; the host lowercases them before matching rules.
 *
 * @example
 * origin('https://shop.example:8443/search?q=a#top');            // 'https://shop.example:8443'
 * host('https://shop.example:8443/search?q=a#top');              // 'shop.example'
 * withQueryParam('https://shop.example/s?q=a#top', 'csrf', 'a b'); // 'https://shop.example/s?q=a&csrf=a%20b#top'
 * @module
 */

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

/**
 * `scheme://authority`, without a trailing slash.
 * @param {string} url
 * @returns {string | undefined} `undefined` when `url` has no `://`.
 */
export function origin(url) {
  const at = url.indexOf('://');
  if (at < 0) return undefined;
  const rest = url.slice(at + 3);
  const end = rest.search(/[/?#]/);
  return end < 0 ? url : url.slice(0, at + 3 + end);
}

/**
 * The host: the authority without user info and port.
 * @param {string} url
 * @returns {string | undefined}
 */
export function host(url) {
  const found = origin(url);
  if (found === undefined) return undefined;
  const authority = found.slice(found.indexOf('://') + 3);
  const hostPort = authority.slice(authority.lastIndexOf('@') + 1);
  if (hostPort.startsWith('[')) {
    const end = hostPort.indexOf(']');
    return end < 0 ? undefined : hostPort.slice(0, end + 1);
  }
  const colon = hostPort.indexOf(':');
  return colon < 0 ? hostPort : hostPort.slice(0, colon);
}

/**
 * `url` with `name=value` appended to its query (before any fragment), both percent-encoded.
 * @param {string} url
 * @param {string} name
 * @param {string} value
 * @returns {string}
 */
export function withQueryParam(url, name, value) {
  const hash = url.indexOf('#');
  const base = hash < 0 ? url : url.slice(0, hash);
  const queryAt = base.indexOf('?');
  let separator = '&';
  if (queryAt < 0) separator = '?';
  else if (queryAt + 1 === base.length || base.endsWith('&')) separator = '';
  const out = `${base}${separator}${percentEncode(name)}=${percentEncode(value)}`;
  return hash < 0 ? out : `${out}#${url.slice(hash + 1)}`;
}

/**
 * Percent-encodes the UTF-8 bytes of `text`, except RFC 3986 unreserved characters.
 * @param {string} text
 * @returns {string}
 */
export function percentEncode(text) {
  let out = '';
  for (const byte of new TextEncoder().encode(text)) {
    const char = String.fromCharCode(byte);
    out += UNRESERVED.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
