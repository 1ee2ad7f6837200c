/**
 * Zyte API request parameters: plain objects, with helpers.
 *
 * Policy: params are always a JSON object; {@link parseParams} rejects any other JSON value, like
 * the reference rejects a `params()` result that is not a dict. {@link paramsToJson} serialises
 * with sorted keys and no spaces, like the Rust and Python SDKs, so every language sends
 * byte-identical params. The helpers never validate Zyte API's own rules, except the two output
 * helpers, which keep `browserHtml` and `httpResponseBody` exclusive.
 *
 * Init parameters (the `params` hook) may hold `url`, the URL of the init request; a request's
 * params never do (its URL is `request.url`).
 *
 * @example
 * const params = { url: 'https://shop.example/', browserHtml: true };
 * addAction(params, setLocationAction({ postalCode: '10001' }));
 * paramsToJson(params);
 * // '{"actions":[{"action":"setLocation","address":{"postalCode":"10001"}}],"browserHtml":true,"url":"https://shop.example/"}'
 * @module
 */

import { addressToJson } from './address.js';

/**
 * Compact JSON text with object keys sorted, the SDKs' common serialisation.
 * @param {unknown} value
 * @returns {string}
 */
export function paramsToJson(value) {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value) {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  const out = {};
  for (const key of Object.keys(value).sort()) {
    if (value[key] !== undefined) out[key] = sortKeys(value[key]);
  }
  return out;
}

/**
 * Parses a JSON object text (`request.params`, a host default's result). Throws for invalid
 * JSON or a non-object.
 * @param {string} text
 * @returns {Record<string, unknown>}
 */
export function parseParams(text) {
  let value;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`Zyte API params are not valid JSON: ${error.message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error(`Zyte API params must be a JSON object, not ${Array.isArray(value) ? 'an array' : typeof value}`);
  }
  return value;
}

/**
 * Turns `httpResponseBody` on (removing `browserHtml`, which Zyte API does not allow with it)
 * or off.
 * @param {Record<string, unknown>} params Changed in place and returned.
 * @param {boolean} [on=true]
 */
export function setHttpResponseBody(params, on = true) {
  return setOutput(params, 'httpResponseBody', 'browserHtml', on);
}

/**
 * Turns `browserHtml` on (removing `httpResponseBody`) or off.
 * @param {Record<string, unknown>} params Changed in place and returned.
 * @param {boolean} [on=true]
 */
export function setBrowserHtml(params, on = true) {
  return setOutput(params, 'browserHtml', 'httpResponseBody', on);
}

function setOutput(params, key, exclusiveWith, on) {
  if (on) {
    delete params[exclusiveWith];
    params[key] = true;
  } else {
    delete params[key];
  }
  return params;
}

/**
 * Appends `action` to `params.actions`, creating the array when absent (a non-array `actions`
 * is replaced, since Zyte API would reject it).
 * @param {Record<string, unknown>} params Changed in place and returned.
 * @param {Record<string, unknown>} action
 */
export function addAction(params, action) {
  if (Array.isArray(params.actions)) params.actions.push(action);
  else params.actions = [action];
  return params;
}

/**
 * A `setLocation` action for `address`.
 * @param {import('./address.js').Address} address
 * @returns {{action: 'setLocation', address: import('./address.js').Address}}
 */
export function setLocationAction(address) {
  return { action: 'setLocation', address: addressToJson(address) };
}
