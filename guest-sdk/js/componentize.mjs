#!/usr/bin/env node
/**
 * Builds a session config with componentize-js (the version pinned in package.json), with
 * cheaper export and import bindings: `node guest-sdk/js/componentize.mjs APP.js -o OUT.wasm`
 * (options: `--wit DIR`, default `wit`; run from a directory that holds APP.js and the SDK,
 * since componentize-js lets the script read only the files under its working directory).
 *
 * The component is what `componentize-js APP.js --wit wit -n session-config -d http fetch-event
 * -o OUT.wasm` builds, except for the JavaScript bindings componentize-js generates for the
 * world, which this script rewrites before they are snapshotted. StarlingMonkey has no JIT, so
 * every line of those bindings runs in SpiderMonkey's interpreter, and on a use request they
 * cost more than the config's own code (issue 17). Each rewrite keeps what the bindings do:
 *
 * - Strings are lowered natively, instead of measuring the UTF-8 length one UTF-16 unit at a
 *   time in JavaScript before `encodeInto`: `encodeInto` a buffer of the string's length, which
 *   holds the whole string when it is ASCII (then each unit is one byte); otherwise
 *   `TextEncoder.encode` and a copy into a buffer of the encoded length. The bytes are the same
 *   (a lone surrogate becomes U+FFFD either way). The buffer too short for a non-ASCII string is
 *   freed with the call's other allocations when the call returns (componentize-js frees every
 *   allocation of a call in `post_call`); growing it in place is not an option, since the
 *   runtime tracks the pointers it handed out.
 * - The bindings' debug logging (`_debugLog`, on only when `process.env.JCO_DEBUG` is set, which
 *   a component never has) is not evaluated: each call built an object literal first.
 * - An export awaits its hook only when the hook returns a promise (a thenable, as `await`
 *   sees it). The SDK's hooks are synchronous, and awaiting a plain value suspended the export
 *   and ran the rest of it (the lowering of the result) as a promise job. A hook that does
 *   return a promise is still awaited, as before.
 * - Each export and import function reads and writes linear memory through one `DataView`,
 *   renewed only after what may move the heap's end (see `reuseDataViews`), instead of calling
 *   `dataView($memory)` for every field: this one saves the most, about 20 µs a request.
 *
 * Policy: every rewrite must apply, at least once, to the bindings of the pinned componentize-js;
 * if one no longer matches (another componentize-js version), the build fails naming it rather
 * than silently building slower bindings. Configs built with plain componentize-js keep working:
 * the rewrites change the cost, never the component's interface or behaviour.
 * @module
 */

import { resolve } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { componentize } from '@bytecodealliance/componentize-js';

// The splicer module componentize-js uses (its package exports only `componentize`): the same
// file, so the same module instance, whose `spliceBindings` `main` wraps.
const { splicer } = await import(
  new URL('./node_modules/@bytecodealliance/componentize-js/lib/spidermonkey-embedding-splicer.js', import.meta.url)
    .href
);

/** The native string lowering that replaces the generated `_utf8AllocateAndEncode`. */
const ENCODE = `function _utf8AllocateAndEncode(s, realloc, memory) {
  if (typeof s !== 'string') {
    throw new TypeError('expected a string, received [' + typeof s + ']');
  }
  if (s.length === 0) { return { ptr: 1, len: 0 }; }
  const ascii = realloc(0, 0, 1, s.length);
  const { read, written } = TEXT_ENCODER_UTF8.encodeInto(s, new Uint8Array(memory.buffer, ascii, s.length));
  if (read === s.length) { return { ptr: ascii, len: written }; }
  const bytes = TEXT_ENCODER_UTF8.encode(s);
  const ptr = realloc(0, 0, 1, bytes.length);
  new Uint8Array(memory.buffer, ptr, bytes.length).set(bytes);
  return { ptr, len: bytes.length };
}
`;

/**
 * The rewrites, in order: a name, the pattern and its replacement (a string or a function, as
 * for `String.prototype.replace`).
 * @type {[string, RegExp, string | ((...args: string[]) => string)][]}
 */
const REWRITES = [
  ['native string lowering', /^function _utf8AllocateAndEncode\(s, realloc, memory\) \{\n[\s\S]*?\n\}\n/m, () => ENCODE],
  ['debug logging not evaluated', /(?<![\w$.])_debugLog\(/g, '0 && _debugLog('],
  ['hook results awaited only when promises', /const (hostRet\d+) = await /g, 'let $1 = '],
  [
    'results of hooks without arguments awaited only when promises',
    /^(\s*)ret = await (\w+)\(\);$/gm,
    '$1ret = $2();\n$1if (typeof ret?.then === \'function\') ret = await ret;',
  ],
  [
    'promise results still awaited',
    /^(\s*)ret = (hostRet\d+) !== null/gm,
    '$1if (typeof $2?.then === \'function\') $2 = await $2;\n$1ret = $2 !== null',
  ],
];

/**
 * `bindings` with every rewrite applied; throws when one does not match.
 * @param {string} bindings
 * @returns {string}
 */
export function rewriteBindings(bindings) {
  let text = bindings;
  for (const [name, pattern, replacement] of REWRITES) {
    if (!text.match(pattern)) {
      throw new Error(`componentize.mjs: the bindings rewrite "${name}" no longer matches this componentize-js`);
    }
    text = text.replace(pattern, replacement);
  }
  return reuseDataViews(text);
}

/** A line that may move the guest's heap end: an allocation, or a call into the host. */
const ALLOCATES = /(_utf8AllocateAndEncode\(|\$realloc\(|\$import_[\w$]*\()/;

/**
 * The bindings with each export and import function reading and writing linear memory through
 * one `DataView` (`dv0`), taken when the function starts and taken again after each line that
 * may grow the heap, instead of calling `dataView($memory)` (a call and two getters) for every
 * field. The view covers the heap as it was when taken, and every address read or written
 * through it was allocated before: the arguments and the return area (allocated before the
 * call), or memory allocated on one of the lines after which the view is renewed.
 * @param {string} bindings
 * @returns {string}
 */
function reuseDataViews(bindings) {
  const lines = bindings.split('\n');
  const out = [];
  let inFunction = false;
  let rewritten = 0;
  for (const line of lines) {
    if (/^(async )?function (export|import)_\S+\(.*\) \{$/.test(line)) {
      inFunction = true;
      out.push(line, '  let dv0 = dataView($memory);');
      rewritten += 1;
      continue;
    }
    if (inFunction && line === '}') inFunction = false;
    if (!inFunction) {
      out.push(line);
      continue;
    }
    const renamed = line.replaceAll('dataView($memory)', 'dv0');
    out.push(ALLOCATES.test(line) && line.trimEnd().endsWith(';') ? `${renamed} dv0 = dataView($memory);` : renamed);
  }
  if (rewritten === 0) {
    throw new Error('componentize.mjs: the bindings rewrite "one DataView per function" no longer matches this componentize-js');
  }
  return out.join('\n');
}

/** Builds the component. */
async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { wit: { type: 'string', default: 'wit' }, out: { type: 'string', short: 'o' } },
  });
  if (positionals.length !== 1 || values.out === undefined) {
    throw new Error('usage: componentize.mjs APP.js -o OUT.wasm [--wit DIR]');
  }
  const splice = splicer.spliceBindings;
  splicer.spliceBindings = (...args) => {
    const spliced = splice(...args);
    return { ...spliced, jsBindings: rewriteBindings(spliced.jsBindings) };
  };
  const { component } = await componentize({
    sourcePath: positionals[0],
    witPath: resolve(values.wit),
    worldName: 'session-config',
    disableFeatures: ['http', 'fetch-event'],
  });
  await writeFile(values.out, component);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await main();
