/**
 * Per-session key/value storage kept by the host: how `check` hands a token to `processRequest`.
 *
 * Policy (from the WIT `session-data` interface): the data belongs to the session the hook runs
 * for (the session being created in `initSession`, the request's session in `check` and
 * `processRequest`); other hooks have no session, so {@link get} returns `undefined` and
 * {@link set} throws. Data outlives instance recycling and config reloads and is dropped with
 * the session. Limits per session: 64 keys, 256 bytes per key, 64 KiB per value; {@link set}
 * throws a {@link SessionDataError} rather than exceed them. Never keep such state in module
 * variables or on the config object: instances are recycled.
 * @module
 */

import * as host from 'session-host:config/session-data@0.1.1';
import { importErrorPayload } from './errors.js';

/** The host refused a {@link set}: no session, or a limit would be exceeded. */
export class SessionDataError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'SessionDataError';
  }
}

/**
 * The value stored under `key` for the current session.
 * @param {string} key
 * @returns {string | undefined}
 */
export function get(key) {
  return host.get(key) ?? undefined;
}

/**
 * Stores `value` under `key` for the current session.
 * @param {string} key
 * @param {string} value
 */
export function set(key, value) {
  try {
    host.set(key, value);
  } catch (error) {
    throw new SessionDataError(String(importErrorPayload(error)));
  }
}

/**
 * Removes `key`; a no-op when absent.
 * @param {string} key
 */
export function remove(key) {
  host.remove(key);
}

/**
 * The keys stored for the current session, in insertion order.
 * @returns {string[]}
 */
export function keys() {
  return host.keys();
}

/**
 * The value under `key` parsed from JSON (`undefined` when absent).
 * @param {string} key
 */
export function getJson(key) {
  const text = get(key);
  return text === undefined ? undefined : JSON.parse(text);
}

/**
 * Stores `value` under `key` as JSON.
 * @param {string} key
 * @param {unknown} value
 */
export function setJson(key, value) {
  set(key, JSON.stringify(value));
}
