/**
 * Test guest (issue 12): a config that waits the way a JavaScript author would when the event
 * loop is out of reach: a busy wait on `Date.now()` for a million seconds. Every hook but
 * `rules` waits when the request URL's path names it (e.g. `https://sleepy.example/check`);
 * otherwise it answers like the default config.
 * @module
 */

import { SessionConfig, exportConfig, urlRules } from '../../../../guest-sdk/js/src/index.js';

/** The domain this config claims. */
const DOMAIN = 'sleepy.example';

/** Waits (practically) forever when `request` names `hook`. */
function nap(hook, request) {
  if (!request.url.endsWith(`/${hook}`)) return;
  const until = Date.now() + 1e9;
  while (Date.now() < until) {
    // busy: a JavaScript guest has no blocking sleep
  }
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
    return super.pool(request);
  }
  location(request) {
    nap('location', request);
    return super.location(request);
  }
  params(request) {
    nap('params', request);
    return super.params(request);
  }
  initSession(sessionId, request) {
    nap('init-session', request);
    return super.initSession(sessionId, request);
  }
  check(response, request) {
    nap('check', request);
    return super.check(response, request);
  }
  processRequest(request) {
    nap('process-request', request);
    return super.processRequest(request);
  }
}

export const { rules, enabled, cookieMode, pool, location, params, initSession, check, processRequest } =
  exportConfig(Sleepy);
