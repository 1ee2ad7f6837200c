/**
 * Which URLs a config handles: {@link urlRules}, built like the reference's `@session_config`
 * decorator.
 *
 * Policy: the defaults are the reference's: no include pattern (a universal rule, which only
 * applies where no domain rule matches), no exclude pattern, priority 500, and `insteadOf` unset
 * (the config replaces the host's built-in default config). Patterns follow url-matcher:
 * `"example.com"` matches the domain and its subdomains, `"example.com/products"` a path prefix.
 * A sidecar `NAME.toml` next to the `.wasm` may override all of it.
 *
 * @example
 * urlRules(['example.com'], { exclude: ['example.com/login'], priority: 600 });
 * @module
 */

/** The reference's default rule priority. */
export const DEFAULT_PRIORITY = 500;

/**
 * @typedef {object} UrlRules The WIT `url-rules`.
 * @property {string[]} include
 * @property {string[]} exclude
 * @property {number} priority
 * @property {string} [insteadOf]
 */

/**
 * The rules of a config. (Not named `rules`: that name is the config's own export.)
 * @param {Iterable<string>} [include] Include patterns.
 * @param {{exclude?: Iterable<string>, priority?: number, insteadOf?: string}} [options]
 *   Exclude patterns, priority (higher wins), and the file stem of the config this one replaces.
 * @returns {UrlRules}
 */
export function urlRules(include = [], { exclude = [], priority = DEFAULT_PRIORITY, insteadOf = undefined } = {}) {
  return { include: [...include], exclude: [...exclude], priority, insteadOf };
}
