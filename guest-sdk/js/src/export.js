/**
 * Exporting a {@link SessionConfig} subclass as the component's `session-config` world:
 * {@link exportConfig}.
 *
 * Policy:
 * - componentize-js exports the module's named exports, one per WIT export, in camelCase. A
 *   config module therefore ends with
 *   `export const { rules, overrides, enabled, cookieMode, pool, location, params, initSession, check, processRequest } = exportConfig(MyConfig);`
 * - The config object is built afresh (`new MyConfig()`) for every hook call, so building it
 *   must be cheap and it can hold no state between calls.
 * - Return values are converted to the WIT shapes here (`params` is serialised with sorted
 *   keys, so a config cannot return invalid JSON), and every thrown value to the hook's `err`
 *   (see `errors.js`), thrown as a string: what componentize-js lowers to `err`. `rules` has no
 *   `err`: an error there is reported with `log.report-panic` and then traps, which fails the
 *   load.
 * @module
 */

import { addressFromJson } from './address.js';
import { SessionConfig } from './config.js';
import { ClosePool, InitCheckError, InitDownloadError, InitParamError, messageOf } from './errors.js';
import { reportPanic } from './log.js';
import { paramsToJson } from './params.js';

/**
 * A WIT `pool-spec` from a `pool` result: a pool id string or `{id, size?, delay?,
 * randomizeDelay?}`.
 * @param {unknown} value
 */
export function toPoolSpec(value) {
  if (typeof value === 'string') return { id: value };
  if (value !== null && typeof value === 'object' && typeof value.id === 'string') {
    const { id, size, delay, randomizeDelay } = value;
    return { id, size: size ?? undefined, delay: delay ?? undefined, randomizeDelay: randomizeDelay ?? undefined };
  }
  throw new Error(`pool() must return a string or an object with an id, not ${JSON.stringify(value)}`);
}

/**
 * A WIT `verdict` from a `check` result: a boolean or a verdict (`{tag: 'keep'}`, …).
 * @param {unknown} value
 */
export function toVerdict(value) {
  if (typeof value === 'boolean') return { tag: value ? 'keep' : 'discard' };
  if (value !== null && typeof value === 'object' && ['keep', 'discard', 'close-pool'].includes(value.tag)) return value;
  throw new Error(`check() must return a boolean, not ${JSON.stringify(value)}`);
}

function initError(error) {
  if (error instanceof ClosePool) return { tag: 'close-pool', val: error.reason };
  if (error instanceof InitParamError) return { tag: 'param-error', val: messageOf(error) };
  if (error instanceof InitCheckError) return { tag: 'check-error', val: messageOf(error) };
  if (error instanceof InitDownloadError) return { tag: 'download', val: error.error };
  return { tag: 'failed', val: messageOf(error) };
}

/** The world's hooks (`rules` excepted), by their names in the WIT `hooks` flags. */
const HOOKS = ['enabled', 'cookieMode', 'pool', 'location', 'params', 'initSession', 'check', 'processRequest'];

/**
 * The hooks `Config` overrides (WIT 0.1.1 `overrides`): the methods its prototype chain defines
 * other than `SessionConfig`'s (a `LocationSessionConfig`'s own count). The host answers the
 * others itself, exactly as the defaults would.
 * @param {typeof SessionConfig} Config
 * @returns {Record<string, boolean>}
 */
export function overridesOf(Config) {
  return Object.fromEntries(HOOKS.map((hook) => [hook, Config.prototype[hook] !== SessionConfig.prototype[hook]]));
}

/** Runs a hook whose WIT result has a `string` error. */
function call(hook) {
  try {
    return hook();
  } catch (error) {
    throw messageOf(error);
  }
}

/**
 * The hooks componentize-js exports, running the hooks of `Config` (a `SessionConfig`
 * subclass). Use it once, at the end of the app module (see the module docs).
 * @param {new () => import('./config.js').SessionConfig} Config
 */
export function exportConfig(Config) {
  const config = () => new Config();
  return {
    rules() {
      try {
        return config().rules();
      } catch (error) {
        reportPanic(`${messageOf(error)}${error?.stack ? `\n${error.stack}` : ''}`);
        throw error;
      }
    },
    overrides: () => overridesOf(Config),
    enabled: (request) => call(() => Boolean(config().enabled(request))),
    cookieMode: (request) => call(() => Boolean(config().cookieMode(request))),
    pool: (request) => call(() => toPoolSpec(config().pool(request))),
    location: (request) => call(() => addressFromJson(config().location(request) ?? {})),
    params: (request) => call(() => paramsJson(config().params(request))),
    initSession(sessionId, request) {
      try {
        return Boolean(config().initSession(sessionId, request));
      } catch (error) {
        throw initError(error);
      }
    },
    check: (response, request) =>
      call(() => {
        try {
          return toVerdict(config().check(response, request));
        } catch (error) {
          if (error instanceof ClosePool) return { tag: 'close-pool', val: error.reason };
          throw error;
        }
      }),
    processRequest: (request) => call(() => config().processRequest(request) ?? undefined),
  };
}

function paramsJson(value) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error(`params() must return an object, not ${JSON.stringify(value)}`);
  }
  return paramsToJson(value);
}
