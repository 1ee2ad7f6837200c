/**
 * The JavaScript SDK for session-host session configs.
 *
 * A session config is a WebAssembly component holding the site-specific logic of Zyte API
 * session management for the URLs its rules select (the contract: `wit/session-config.wit`,
 * world `session-config`). With this package, a config is a subclass of {@link SessionConfig}
 * (or {@link LocationSessionConfig}) in an ES module that ends with
 * `export const { rules, overrides, enabled, cookieMode, pool, location, params, initSession, check, processRequest } = exportConfig(MyConfig);`,
 * built with componentize-js through the SDK's `componentize.mjs`, which also makes the bindings
 * componentize-js generates cheaper (about half the host cost of a request, issue 17):
 *
 *     node guest-sdk/js/componentize.mjs app.js --wit wit -o my-config.wasm
 *
 * (Plain `componentize-js app.js --wit wit -n session-config -d http fetch-event -o
 * my-config.wasm` builds the same interface and behaviour, with slower bindings.)
 *
 * Where to start: {@link SessionConfig} (the hooks, each defaulting to the reference's behaviour;
 * call `super` for it), {@link LocationSessionConfig}, then the helpers: params (`paramsToJson`,
 * `addAction`, `setLocationAction`, …), {@link RawResponse}, addresses, requests (`header`,
 * `setHeader`, `requestParams`, …), `urlRules`, `sessionData`, `log`, `url`, `download`.
 *
 * WIT values are plain objects with camelCase fields: a request is `{url, method, headers,
 * params, controls, sessionId, isInit}`, an address `{addressCountry, addressRegion,
 * postalCode, streetAddress}` (Zyte API's own JSON names), an absent option is `undefined`.
 *
 * @example
 * import { RawResponse, SessionConfig, copyRequest, exportConfig, sessionData, setHeader, url, urlRules } from './sdk/index.js';
 *
 * class Shop extends SessionConfig {
 *   rules() { return urlRules(['shop.example']); }
 *   params(request) { return { url: `${url.origin(request.url)}/`, httpResponseBody: true }; }
 *   check(response, request) {
 *     if (!request.isInit) return super.check(response, request);
 *     const token = (RawResponse.fromResponse(response).html() ?? '').split('data-token="')[1]?.split('"')[0];
 *     if (token) sessionData.set('token', token);
 *     return Boolean(token);
 *   }
 *   processRequest(request) {
 *     const token = sessionData.get('token');
 *     if (token === undefined) return undefined;
 *     const copy = copyRequest(request);
 *     setHeader(copy, 'x-token', token);
 *     return copy;
 *   }
 * }
 *
 * export const { rules, overrides, enabled, cookieMode, pool, location, params, initSession, check, processRequest } =
 *   exportConfig(Shop);
 * @module
 */

export { ADDRESS_FIELDS, addressFromJson, addressToJson, isEmptyAddress } from './address.js';
export { LocationSessionConfig, SessionConfig, download, hasActions, verdictToBoolean } from './config.js';
export {
  ClosePool,
  DownloadFailed,
  InitCheckError,
  InitDownloadError,
  InitError,
  InitFailed,
  InitParamError,
  messageOf,
} from './errors.js';
export { exportConfig, toPoolSpec, toVerdict } from './export.js';
export { addAction, paramsToJson, parseParams, setBrowserHtml, setHttpResponseBody, setLocationAction } from './params.js';
export {
  copyRequest,
  header,
  isBrowserRequest,
  removeHeader,
  requestHost,
  requestParams,
  setHeader,
  setRequestParams,
} from './request.js';
export { RawResponse, base64Decode } from './response.js';
export { DEFAULT_PRIORITY, urlRules } from './rules.js';
export * as log from './log.js';
export * as sessionData from './session-data.js';
export * as url from './url.js';
