/**
 * Typed reads of a Zyte API response body: {@link RawResponse}.
 *
 * Policy: parsing checks only that the body is a JSON object; each accessor then reads one field
 * and returns `undefined` (or an empty array) when it is absent or has an unexpected type, the
 * way the reference's `raw_api_response.get(...)` does. Only decoding `httpResponseBody` can
 * throw, because invalid base64 is a broken response rather than a missing field.
 *
 * @example
 * const raw = RawResponse.parse('{"statusCode": 200, "httpResponseBody": "PHA+aGk8L3A+"}');
 * raw.statusCode; // 200
 * raw.html();     // '<p>hi</p>'
 * @module
 */

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/**
 * Decodes standard base64 (padding optional). Throws on any other character.
 * @param {string} text
 * @returns {Uint8Array}
 */
export function base64Decode(text) {
  const clean = text.replace(/=+$/, '');
  if (clean.length % 4 === 1) throw new Error('httpResponseBody is not valid base64: bad length');
  const out = new Uint8Array(Math.floor((clean.length * 3) / 4));
  let bits = 0;
  let value = 0;
  let at = 0;
  for (const char of clean) {
    const digit = BASE64.indexOf(char);
    if (digit < 0) throw new Error(`httpResponseBody is not valid base64: invalid character ${JSON.stringify(char)}`);
    value = (value << 6) | digit;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[at++] = (value >> bits) & 0xff;
    }
  }
  return out;
}

const text = (value) => (typeof value === 'string' ? value : undefined);

/**
 * @typedef {object} ActionResult The outcome of one browser action of the response's `actions`.
 * @property {string} action The action name, e.g. `setLocation`.
 * @property {string} status `success`, `returned`, `continued`, `notExecuted`, or any other
 *   value verbatim (`''` when absent).
 * @property {string} [error] Why the action failed, when it did.
 * @property {boolean} succeeded Whether the status is `success`.
 * @property {boolean} failed Whether the action ran and failed (`returned` or `continued`).
 */

/**
 * @typedef {object} ResponseCookie One cookie of `responseCookies`.
 * @property {string} name
 * @property {string} value
 * @property {string} [domain]
 * @property {string} [path]
 */

/** A parsed Zyte API response body. See the module docs. */
export class RawResponse {
  /**
   * Wraps an already parsed body.
   * @param {Record<string, unknown>} body
   */
  constructor(body) {
    /** The parsed body. */
    this.body = body;
  }

  /**
   * Parses a response body, which must be a JSON object.
   * @param {string} body
   * @returns {RawResponse}
   */
  static parse(body) {
    let value;
    try {
      value = JSON.parse(body);
    } catch (error) {
      throw new Error(`the Zyte API response body is not valid JSON: ${error.message}`);
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new Error('the Zyte API response body is not a JSON object');
    }
    return new RawResponse(value);
  }

  /**
   * Parses `response.body`.
   * @param {{status: number, body: string}} response
   * @returns {RawResponse}
   */
  static fromResponse(response) {
    return RawResponse.parse(response.body);
  }

  /**
   * The value of any top-level field.
   * @param {string} key
   */
  get(key) {
    return this.body[key];
  }

  /** `url`: the final URL, after redirects. @type {string | undefined} */
  get url() {
    return text(this.body.url);
  }

  /** `statusCode`: the target site's HTTP status. @type {number | undefined} */
  get statusCode() {
    const value = this.body.statusCode;
    return Number.isInteger(value) && value >= 0 && value <= 0xffff ? value : undefined;
  }

  /** `browserHtml`. @type {string | undefined} */
  get browserHtml() {
    return text(this.body.browserHtml);
  }

  /**
   * `httpResponseBody`, base64-decoded; `undefined` when absent. Throws on invalid base64.
   * @returns {Uint8Array | undefined}
   */
  httpResponseBody() {
    const encoded = text(this.body.httpResponseBody);
    return encoded === undefined ? undefined : base64Decode(encoded);
  }

  /**
   * The page as text: `browserHtml`, else `httpResponseBody` decoded as UTF-8 (invalid
   * sequences replaced); `undefined` when the response has neither.
   * @returns {string | undefined}
   */
  html() {
    if (this.browserHtml !== undefined) return this.browserHtml;
    const body = this.httpResponseBody();
    return body === undefined ? undefined : new TextDecoder().decode(body);
  }

  /**
   * The value of response header `name` (case-insensitive, first match) from
   * `httpResponseHeaders`.
   * @param {string} name
   * @returns {string | undefined}
   */
  responseHeader(name) {
    const headers = Array.isArray(this.body.httpResponseHeaders) ? this.body.httpResponseHeaders : [];
    const found = headers.find((h) => text(h?.name)?.toLowerCase() === name.toLowerCase());
    return text(found?.value);
  }

  /**
   * `actions`: the outcome of each browser action, in order.
   * @returns {ActionResult[]}
   */
  actions() {
    const actions = Array.isArray(this.body.actions) ? this.body.actions : [];
    return actions.map((item) => {
      const status = text(item?.status) ?? '';
      return {
        action: text(item?.action) ?? '',
        status,
        error: text(item?.error),
        succeeded: status === 'success',
        failed: status === 'returned' || status === 'continued',
      };
    });
  }

  /** Whether any action ran and failed. @returns {boolean} */
  actionFailed() {
    return this.actions().some((action) => action.failed);
  }

  /**
   * The first `setLocation` action's outcome, the one the default check inspects.
   * @returns {ActionResult | undefined}
   */
  setLocationResult() {
    return this.actions().find((action) => action.action === 'setLocation');
  }

  /**
   * `responseCookies`; entries without a string name or value are skipped.
   * @returns {ResponseCookie[]}
   */
  responseCookies() {
    const cookies = Array.isArray(this.body.responseCookies) ? this.body.responseCookies : [];
    return cookies
      .filter((c) => text(c?.name) !== undefined && text(c?.value) !== undefined)
      .map((c) => ({ name: c.name, value: c.value, domain: text(c.domain), path: text(c.path) }));
  }
}
