/**
 * Logging into the host's log, tagged by the host with the config and the hook.
 *
 * Policy (from the WIT `log` interface): each message is truncated to 4 KiB and each hook call
 * may log at most 64 lines; the host drops and counts the rest. `console.log` also reaches the
 * host's log (stdout and stderr are captured, bounded), but without a level: prefer these.
 * @module
 */

import { log as hostLog, reportPanic as hostReportPanic } from 'session-host:config/log@0.1.1';

/** @typedef {'trace' | 'debug' | 'info' | 'warn' | 'error'} Level Severity of a log line. */

/**
 * Writes `message` at `level`.
 * @param {Level} level
 * @param {string} message
 */
export function log(level, message) {
  hostLog(level, message);
}

/** Writes `message` at `trace`. @param {string} message */
export const trace = (message) => hostLog('trace', message);
/** Writes `message` at `debug`. @param {string} message */
export const debug = (message) => hostLog('debug', message);
/** Writes `message` at `info`. @param {string} message */
export const info = (message) => hostLog('info', message);
/** Writes `message` at `warn`. @param {string} message */
export const warn = (message) => hostLog('warn', message);
/** Writes `message` at `error`. @param {string} message */
export const error = (message) => hostLog('error', message);

/**
 * Tells the host why the guest is about to trap; the export adapter calls it for an error that
 * cannot become an `err` (one thrown by `rules`).
 * @param {string} message
 */
export function reportPanic(message) {
  hostReportPanic(message);
}
