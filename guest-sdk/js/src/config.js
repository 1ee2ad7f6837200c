/**
 * `SessionConfig` and `LocationSessionConfig`: the hooks of a session config, mirroring the
 * reference's classes (scrapy-zyte-api 0.36.0, section 6) method for method, in camelCase.
 *
 * Policy: every method has a default that behaves exactly like the reference's, computed by the
 * host's `defaults` interface (which knows the host's settings). A config overrides what it
 * needs and calls `super` for the default behaviour. Because the defaults go through `this`, an
 * override of `location` changes what the default `params` and `check` see, and overrides of
 * `params` and `check` change what the default `initSession` does, as in the reference. (The
 * host cannot call back into a running guest, so the SDK makes those inner calls here and passes
 * their results to the host.)
 *
 * Return values are the reference's: `pool` returns a pool id string (or
 * `{id, size?, delay?, randomizeDelay?}`); `location` an address object; `params` a plain
 * object; `check` a boolean, throwing {@link ClosePool} to close the pool; `processRequest` a new
 * request or `undefined`. Throwing is the reference's exception (see `errors.js`).
 *
 * A config must keep no state between calls: the host builds the config object for each call
 * and reuses, recycles and discards instances at will. State that must outlive a call goes into
 * `sessionData`.
 * @module
 */

import * as defaults from 'session-host:config/defaults@0.1.1';
import { download as hostDownload } from 'session-host:config/download@0.1.1';
import { addressFromJson, isEmptyAddress } from './address.js';
import {
  ClosePool,
  DownloadFailed,
  InitCheckError,
  InitDownloadError,
  InitParamError,
  importErrorPayload,
  messageOf,
} from './errors.js';
import { paramsToJson, parseParams } from './params.js';

/**
 * Sends `request` to Zyte API with the session being initialised (only during `initSession`)
 * and returns the response; throws {@link DownloadFailed} otherwise.
 * @param {object} request A WIT request.
 * @returns {{status: number, body: string}}
 */
export function download(request) {
  try {
    return hostDownload(request);
  } catch (error) {
    throw new DownloadFailed(importErrorPayload(error));
  }
}

/**
 * A host verdict as the reference's `check` result: `true` to keep, `false` to discard; a
 * close-pool verdict throws {@link ClosePool}.
 * @param {{tag: string, val?: string}} verdict
 * @returns {boolean}
 */
export function verdictToBoolean(verdict) {
  if (verdict.tag === 'close-pool') throw new ClosePool(verdict.val);
  return verdict.tag === 'keep';
}

/**
 * Whether `response`'s body may hold an `actions` field: the key's text appears in it. The
 * default check reads nothing else, so a body without it keeps the session.
 * @param {{body: string}} response
 * @returns {boolean}
 */
export function hasActions(response) {
  return response.body.includes('"actions"');
}

/** The hooks of a session config, each defaulting to the reference's behaviour. */
export class SessionConfig {
  /**
   * Which URLs this config handles, called once when it loads (see `urlRules()`).
   * Default: a universal rule with priority 500, which a real config almost always replaces.
   */
  rules() {
    return defaults.rules();
  }

  /**
   * Whether session management applies to `request`: its `enabled` control, else the setting.
   * @param {object} request
   * @returns {boolean}
   */
  enabled(request) {
    return defaults.enabled(request);
  }

  /**
   * Whether sessions are cookie jars kept by the host instead of Zyte API sessions: the
   * request's control, else the `cookie_mode` setting.
   * @param {object} request
   * @returns {boolean}
   */
  cookieMode(request) {
    return defaults.cookieMode(request);
  }

  /**
   * The pool `request` goes to (reference 5.2): the request's pool control, else `netloc[n]` for
   * its params control, else `netloc@fields` for its location control, else the URL's netloc.
   * Throwing closes the pool with `pool_error`.
   * @param {object} request
   * @returns {string | {id: string, size?: number, delay?: number, randomizeDelay?: boolean}}
   */
  pool(request) {
    try {
      return defaults.pool(request);
    } catch (error) {
      throw new Error(String(importErrorPayload(error)));
    }
  }

  /**
   * The location sessions for `request` are initialised with: the request's location control if
   * set (even if empty), else the `location` setting. Empty means none.
   * @param {object} request
   * @returns {import('./address.js').Address}
   */
  location(request) {
    return defaults.location(request);
  }

  /**
   * Session initialisation parameters: `{browserHtml: true}`, plus a `setLocation` action when
   * `this.location(request)` is not empty. May hold `url`, the init URL (default: the triggering
   * request's URL).
   * @param {object} request
   * @returns {Record<string, unknown>}
   */
  params(request) {
    return parseParams(defaults.params(request, this.location(request)));
  }

  /**
   * Initialises session `sessionId`, triggered by `request` (reference 5.7): the host's preset
   * params or `this.params(request)`, the init request, `download`, then
   * `this.check(response, initRequest)`. `true` adds the session to the pool. A custom chain may
   * call `download` several times.
   * @param {string} sessionId
   * @param {object} request
   * @returns {boolean}
   */
  initSession(sessionId, request) {
    let params = defaults.presetInitParams(request) ?? undefined;
    if (params === undefined) {
      try {
        params = paramsToJson(this.params(request));
      } catch (error) {
        throw new InitParamError(messageOf(error));
      }
    }
    let initRequest;
    try {
      initRequest = defaults.initRequest(sessionId, request, params);
    } catch (error) {
      throw new InitParamError(String(importErrorPayload(error)));
    }
    let response;
    try {
      response = download(initRequest);
    } catch (error) {
      if (error instanceof DownloadFailed) throw new InitDownloadError(error.error);
      throw error;
    }
    try {
      return Boolean(this.check(response, initRequest));
    } catch (error) {
      if (error instanceof ClosePool) throw error;
      throw new InitCheckError(messageOf(error));
    }
  }

  /**
   * Checks a successful Zyte API response to `request` (reference 5.8), with the location
   * `this.location(request)` chose: an unsupported `setLocation` throws {@link ClosePool}
   * (`unsupported_set_location`); an init response with a `returned` action is discarded; with
   * a location, the first `setLocation` must have succeeded. `request.isInit` tells an init
   * response from a use response.
   *
   * Answered here, without crossing to the host, when the body has no `"actions"` key text
   * (every HTTP response): the default check then keeps the session whatever the location and
   * the settings, as the host's own check does for the same bodies. An overridden `location`
   * still runs first, so that what it throws is still this check's error. Otherwise (issue 17)
   * the default cost two host calls, each copying the whole response and request across.
   * @param {{status: number, body: string}} response
   * @param {object} request
   * @returns {boolean}
   */
  check(response, request) {
    if (!hasActions(response)) {
      if (this.location !== SessionConfig.prototype.location) addressFromJson(this.location(request) ?? {});
      return true;
    }
    return verdictToBoolean(defaults.check(response, request, this.location(request)));
  }

  /**
   * Called after a session is assigned to `request` and before it is sent (never for init
   * requests): return a new request to replace it. Default: `undefined`, no change (answered
   * here: crossing to the host would copy the request twice for nothing).
   * @param {object} request
   * @returns {object | undefined}
   */
  processRequest(request) {
    return undefined;
  }
}

/**
 * A {@link SessionConfig} with location-specific init params and checks, like the reference's:
 * when `this.location(request)` is not empty, `params` calls `locationParams` and `check` calls
 * `locationCheck`; otherwise both behave like `SessionConfig`'s.
 */
export class LocationSessionConfig extends SessionConfig {
  /** `locationParams` when the location is set, else the default params. */
  params(request) {
    const location = this.location(request);
    return isEmptyAddress(location) ? super.params(request) : this.locationParams(request, location);
  }

  /** `locationCheck` when the location is set, else the default check. */
  check(response, request) {
    const location = this.location(request);
    return isEmptyAddress(location) ? super.check(response, request) : this.locationCheck(response, request, location);
  }

  /**
   * Init params for sessions with the non-empty `location`. Default: `SessionConfig`'s params
   * (`browserHtml` plus a `setLocation` action).
   * @param {object} request
   * @param {import('./address.js').Address} location
   * @returns {Record<string, unknown>}
   */
  locationParams(request, location) {
    return SessionConfig.prototype.params.call(this, request);
  }

  /**
   * Checks a response for a session with the non-empty `location`. Default: `SessionConfig`'s
   * check.
   * @param {{status: number, body: string}} response
   * @param {object} request
   * @param {import('./address.js').Address} location
   * @returns {boolean}
   */
  locationCheck(response, request, location) {
    return SessionConfig.prototype.check.call(this, response, request);
  }
}
