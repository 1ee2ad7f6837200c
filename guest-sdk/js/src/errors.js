/**
 * The errors a config throws to give the host a specific outcome, and how any other error is
 * reported.
 *
 * Policy: a hook that throws is the reference's hook raising: the host counts and reports it
 * like the reference does for that hook (`check` → `use/check-error`, `params` →
 * `init/param-error`, `pool` → the `pool_error` close reason). The message the host sees is
 * {@link messageOf} the error. Two kinds of errors mean more than "failed":
 * - {@link ClosePool} (the reference's `CloseSpider`) from `check` or `initSession` closes the pool
 *   with its reason;
 * - the {@link InitError} subclasses from `initSession` pick the init outcome (reference 5.7); any
 *   other error there is `init/failed`.
 * @module
 */

/** Stop using this pool: it is closed with `reason` (the reference's `CloseSpider`). */
export class ClosePool extends Error {
  /** @param {string} reason The close reason. */
  constructor(reason) {
    super(reason);
    this.name = 'ClosePool';
    /** The close reason. */
    this.reason = reason;
  }
}

/** Base class of the init outcomes other than a failed check (`return false`). */
export class InitError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = new.target.name;
  }
}

/** Computing the init parameters failed (`init/param-error`). */
export class InitParamError extends InitError {}

/** Checking the init response failed (`init/check-error`). */
export class InitCheckError extends InitError {}

/** Any other failure of the init chain (`init/failed`). */
export class InitFailed extends InitError {}

/**
 * A download of the init chain failed; the host classifies it (`init/failed`, or a retry for
 * `/problem/over-session-limit` and `/problem/session-creation-error`).
 */
export class InitDownloadError extends InitError {
  /** @param {DownloadError} error The WIT `download-error`. */
  constructor(error) {
    super(describeDownloadError(error));
    /** The WIT `download-error`. */
    this.error = error;
  }
}

/**
 * @typedef {{tag: 'api', val: {status: number, problemType?: string, body: string}}
 *   | {tag: 'transport', val: string} | {tag: 'refused', val: string}} DownloadError
 *   The WIT `download-error`.
 */

/** `download` did not produce a response. */
export class DownloadFailed extends Error {
  /** @param {DownloadError} error The WIT `download-error`. */
  constructor(error) {
    super(describeDownloadError(error));
    this.name = 'DownloadFailed';
    /** The WIT `download-error`. */
    this.error = error;
  }

  /** The Zyte API problem type, for an API error that has one. @type {string | undefined} */
  get problemType() {
    return this.error.tag === 'api' ? this.error.val.problemType : undefined;
  }
}

/**
 * A one-line description of a `download-error`.
 * @param {DownloadError} error
 * @returns {string}
 */
export function describeDownloadError(error) {
  if (error.tag === 'api') return `Zyte API answered ${error.val.status} ${error.val.problemType ?? ''}`.trimEnd();
  return String(error.val);
}

const OWN_ERRORS = [ClosePool, InitError, DownloadFailed];

/**
 * The text the host receives for `error`: the message of a plain `Error` or of this SDK's
 * errors (the convention for a config's own errors); `"TypeError: message"` for other `Error`
 * subclasses, so that a bug stays recognisable; `String(value)` for a thrown non-error.
 * @param {unknown} error
 * @returns {string}
 */
export function messageOf(error) {
  if (!(error instanceof Error)) return String(error);
  const own = error.constructor === Error || OWN_ERRORS.some((kind) => error instanceof kind);
  if (own && error.message) return error.message;
  return error.message ? `${error.name}: ${error.message}` : error.name;
}

/**
 * The payload of an error thrown by a host import that returns a WIT `result`.
 * @param {unknown} error
 * @returns {unknown}
 */
export function importErrorPayload(error) {
  return error !== null && typeof error === 'object' && 'payload' in error ? error.payload : error;
}
