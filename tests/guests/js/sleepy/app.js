/**
 * Test guest (issue 12): a config that waits the way a JavaScript author would when the event
 * loop is out of reach: a busy wait on `Date.now()` for a million seconds. Every hook but
 * `rules` waits when the request URL's path names it (e.g. `https://sleepy.example/check`).
 * When the path is `/huge/` and the hook's name (e.g. `https://sleepy.example/huge/pool`), the
 * hook returns a 10 MB string instead: as the pool id, a location field, a params value, the URL
 * of the request it returns, a `ClosePool` reason or an `InitFailed` message. Otherwise it
 * answers like the default config.
 * @module
 */

import { ClosePool, InitFailed, SessionConfig, exportConfig, urlRules } from '../../../../guest-sdk/js/src/index.js';

/** The domain this config claims. */
const DOMAIN = 'sleepy.example';

/** Waits (practically) forever when `request` names `hook`. */
function nap(hook, request) {
  if (!request.url.endsWith(`/${hook}`) || huge(hook, request)) return;
  const until = Date.now() + 1e9;
  while (Date.now() < until) {
    // busy: a JavaScript guest has no blocking sleep
  }
}

/** Whether `request` asks `hook` for a 10 MB answer. */
function huge(hook, request) {
  return request.url.endsWith(`/huge/${hook}`);
}

/** 10 MB of text. */
function big() {
  return 'x'.repeat(10 << 20);
}

class Sleepy extends SessionConfig {
  rules() {
    return urlRules([DOMAIN]);
  }
  enabled(request) {
    nap('enabled', request);
    return super.enabled(request);
  }
  cookieMode(request) {
    nap('cookie-mode', request);
    return super.cookieMode(request);
  }
  pool(request) {
    nap('pool', request);
    if (huge('pool', request)) return big();
    return super.pool(request);
  }
  location(request) {
    nap('location', request);
    if (huge('location', request)) return { addressCountry: big() };
    return super.location(request);
  }
  params(request) {
    nap('params', request);
    if (huge('params', request)) return { huge: big() };
    return super.params(request);
  }
  initSession(sessionId, request) {
    nap('init-session', request);
    if (huge('init-session', request)) throw new InitFailed(big());
    return super.initSession(sessionId, request);
  }
  check(response, request) {
    nap('check', request);
    if (huge('check', request)) throw new ClosePool(big());
    return super.check(response, request);
  }
  processRequest(request) {
    nap('process-request', request);
    if (huge('process-request', request)) return { ...request, url: big() };
    return super.processRequest(request);
  }
}

export const { rules, overrides, enabled, cookieMode, pool, location, params, initSession, check, processRequest } =
  exportConfig(Sleepy);
