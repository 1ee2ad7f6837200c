/**
 * Example location session config for the `postal-code-NNNNN.example` grocery sites, in
 * JavaScript: sessions are initialised with the site's own location flow, and each response is
 * checked for the location it shows.
 *
 * It behaves exactly like the Rust example (`../src/lib.rs`, which documents the sites and each
 * hook); `host/tests/all/conformance.rs` checks that the two agree.
 *
 * - `location`: the usual location (the request's control, else the setting); when there is
 *   none, the postal code in the site's domain name.
 * - `locationParams`: a browser request for the home page that runs `setLocation` with the
 *   address, then waits for the `#location` banner.
 * - `locationCheck`: the default check, then the page's `#location` banner must say
 *   "Delivering to" the location's postal code (pages without the banner pass).
 * - Without a location, `params` and `check` are the defaults.
 * @module
 */

import {
  LocationSessionConfig,
  RawResponse,
  SessionConfig,
  addAction,
  exportConfig,
  isEmptyAddress,
  log,
  requestHost,
  setLocationAction,
  url,
  urlRules,
} from '../../../guest-sdk/js/src/index.js';

/** The sites this config handles (url-matcher has no wildcard in domains). */
export const DOMAINS = ['postal-code-10001.example', 'postal-code-10002.example', 'postal-code-94105.example'];
const DOMAIN_PREFIX = 'postal-code-';
const DOMAIN_SUFFIX = '.example';
/** The CSS selector of the location banner. */
const BANNER = '#location';
/** The banner's text before the postal code. */
const DELIVERING_TO = 'Delivering to ';

/** The config. Stateless. */
class PostalCode extends LocationSessionConfig {
  /** The listed postal-code sites. */
  rules() {
    return urlRules(DOMAINS);
  }

  /** The usual location, else the postal code in the domain name. */
  location(request) {
    const location = super.location(request);
    if (!isEmptyAddress(location)) return location;
    const host = requestHost(request);
    const code = host === undefined ? undefined : domainPostalCode(host);
    return code === undefined ? {} : { postalCode: code };
  }

  /** The site's location flow on its home page. */
  locationParams(request, location) {
    return initParams(request.url, location);
  }

  /** The default check, then the banner must show the location's postal code. */
  locationCheck(response, request, location) {
    if (!SessionConfig.prototype.check.call(this, response, request)) return false;
    const raw = RawResponse.fromResponse(response);
    let html;
    try {
      html = raw.html();
    } catch (error) {
      throw new Error(`response body: ${error.message}`);
    }
    const shown = html === undefined ? { kind: 'NoBanner' } : banner(html);
    const keep = matches(shown, location);
    if (!keep) {
      log.warn(`${request.url} shows ${JSON.stringify(shown)} instead of the session's location ${JSON.stringify(location)}`);
    }
    return keep;
  }
}

/**
 * The postal code in a `postal-code-NNNNN.example` host name.
 * @param {string} host
 * @returns {string | undefined}
 */
export function domainPostalCode(host) {
  if (!host.startsWith(DOMAIN_PREFIX) || !host.endsWith(DOMAIN_SUFFIX)) return undefined;
  if (host.length < DOMAIN_PREFIX.length + DOMAIN_SUFFIX.length) return undefined;
  const code = host.slice(DOMAIN_PREFIX.length, host.length - DOMAIN_SUFFIX.length);
  return /^[A-Za-z0-9]+$/.test(code) ? code : undefined;
}

/**
 * The home page of `pageUrl`'s origin in a browser, `setLocation`, then wait for the banner.
 * @param {string} pageUrl
 * @param {object} location
 */
export function initParams(pageUrl, location) {
  const origin = url.origin(pageUrl);
  if (origin === undefined) throw new Error(`cannot find the origin of ${JSON.stringify(pageUrl)}`);
  const params = { url: `${origin}/`, browserHtml: true };
  addAction(params, setLocationAction(location));
  addAction(params, { action: 'waitForSelector', selector: { type: 'css', value: BANNER } });
  return params;
}

/**
 * What the `<… id="location">` banner of `html` shows: `{kind: 'NoBanner'}`,
 * `{kind: 'NoLocation'}` or `{kind: 'PostalCode', code}`.
 * @param {string} html
 */
export function banner(html) {
  const at = html.indexOf(`id="${BANNER.slice(1)}"`);
  if (at < 0) return { kind: 'NoBanner' };
  const rest = html.slice(at);
  const close = rest.indexOf('>');
  const text = (close < 0 ? '' : rest.slice(close + 1).split('<')[0]).trim();
  if (text.startsWith(DELIVERING_TO)) return { kind: 'PostalCode', code: text.slice(DELIVERING_TO.length).trim() };
  return { kind: 'NoLocation' };
}

/**
 * Whether the page agrees with `location`: no banner, or the location's postal code (any
 * location without a postal code).
 */
export function matches(shown, location) {
  if (shown.kind === 'NoBanner') return true;
  if (shown.kind === 'NoLocation') return false;
  return location.postalCode === undefined || location.postalCode === null || location.postalCode === shown.code;
}

export const { rules, overrides, enabled, cookieMode, pool, location, params, initSession, check, processRequest } =
  exportConfig(PostalCode);
