/**
 * The session config `{{name}}`: Zyte API session management for {{site}}.
 *
 * Every hook is listed below. A hook left commented out behaves exactly like the default, which
 * is what the commented-out body calls (`super`): uncomment one and change it. Build with
 * `session-host plugin build`, then watch it work with
 * `session-host plugin trace https://{{site}}/ --configs dist` and `session-host plugin test`.
 * @module
 */

import { SessionConfig, exportConfig, urlRules } from './sdk/index.js';

/**
 * The config. Keep no state in it: the host reuses and recycles instances; state that must
 * outlive a call goes into the SDK's `sessionData`.
 */
class Config extends SessionConfig {
  /** The URLs this config handles. */
  rules() {
    return urlRules(['{{site}}']);
  }

  // /** Whether session management applies to `request`. */
  // enabled(request) {
  //   return super.enabled(request);
  // }

  // /** Whether sessions are cookie jars kept by the host. */
  // cookieMode(request) {
  //   return super.cookieMode(request);
  // }

  // /** The pool `request` goes to. */
  // pool(request) {
  //   return super.pool(request);
  // }

  // /** The location sessions are initialised with (empty: none). */
  // location(request) {
  //   return super.location(request);
  // }

  // /** Session initialisation parameters (may hold `url`, the init URL). */
  // params(request) {
  //   return super.params(request);
  // }

  // /** Initialises a session; `true` adds it to the pool. */
  // initSession(sessionId, request) {
  //   return super.initSession(sessionId, request);
  // }

  // /** Checks a response: `true` keeps the session, `false` discards it. */
  // check(response, request) {
  //   return super.check(response, request);
  // }

  // /** Changes a request before it is sent (a request replaces it, `undefined` keeps it). */
  // processRequest(request) {
  //   return super.processRequest(request);
  // }
}

export const { rules, overrides, enabled, cookieMode, pool, location, params, initSession, check, processRequest } =
  exportConfig(Config);
