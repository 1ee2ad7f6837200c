// The bindings rewrites of componentize.mjs (issue 17), on the bindings the pinned componentize-js
// generates for the repo's WIT: each applies, the result still compiles, and the native string
// lowering writes the same bytes as the generated one.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';

import { rewriteBindings } from '../componentize.mjs';

const componentizeJs = new URL('../node_modules/@bytecodealliance/componentize-js/', import.meta.url);
const { splicer } = await import(new URL('lib/spidermonkey-embedding-splicer.js', componentizeJs).href);

/** The bindings componentize-js generates for the world (what `componentize` splices). */
async function generatedBindings() {
  const engine = await readFile(new URL('lib/starlingmonkey_embedding.wasm', componentizeJs));
  const wit = new URL('../../../wit', import.meta.url).pathname;
  const features = ['stdio', 'random', 'clocks'];
  return splicer.spliceBindings(engine, features, undefined, wit, 'session-config', false).jsBindings;
}

const generated = await generatedBindings();
const rewritten = rewriteBindings(generated);

/** `_utf8AllocateAndEncode` of `bindings`, over a bump allocator on a 64 KiB memory. */
function encoder(bindings) {
  const source = bindings.match(/^function _utf8AllocateAndEncode\([\s\S]*?\n\}\n/m)[0];
  const encode = new Function('TEXT_ENCODER_UTF8', `${source}\nreturn _utf8AllocateAndEncode;`)(new TextEncoder());
  const memory = { buffer: new ArrayBuffer(1 << 16) };
  let top = 8;
  const realloc = (old, oldLen, align, len) => {
    assert.equal(old, 0, 'a fresh allocation');
    const ptr = top;
    top += len;
    return ptr;
  };
  return (s) => {
    const { ptr, len } = encode(s, realloc, memory);
    return Buffer.from(new Uint8Array(memory.buffer, ptr, len)).toString('hex');
  };
}

test('issue_17 every bindings rewrite applies, and the rewritten bindings compile', () => {
  assert.doesNotThrow(() => new Function(rewritten));
  assert.doesNotMatch(rewritten, /^\s*_debugLog\(/m, 'no debug log is evaluated');
  assert.doesNotMatch(rewritten, /= await (?!hostRet\d+;|ret;)/, 'no hook result is awaited unconditionally');
  const exportsAwaited = generated.match(/const hostRet\d+ = await /g).length;
  assert.equal(rewritten.match(/if \(typeof hostRet\d+\?\.then === 'function'\) hostRet\d+ = await hostRet\d+;/g).length, exportsAwaited);
});

test('issue_17 memory is read and written through the view renewed after each allocation', () => {
  for (const fn of rewritten.match(/^(async )?function (export|import)_[\s\S]*?\n\}$/gm)) {
    assert.doesNotMatch(fn, /dataView\(\$memory\)\.(get|set)/, fn.split('\n')[0]);
    for (const line of fn.split('\n')) {
      if (/_utf8AllocateAndEncode\(|\$realloc\(|= \$import_/.test(line)) {
        assert.match(line, /dv0 = dataView\(\$memory\);$/, line);
      }
    }
  }
});

test('issue_17 the native string lowering writes the bytes the generated one writes', () => {
  const before = encoder(generated);
  const after = encoder(rewritten);
  const strings = [
    '',
    'x',
    'https://csrf.example/search?q=shoes',
    'é',
    'naïve café',
    '€100',
    '😀 emoji',
    'lone \ud800 high',
    'lone \udc00 low',
    'end \ud83d',
    '\u0000\u007f\u0080\u07ff\u0800\uffff',
    'x'.repeat(1000) + 'ü',
  ];
  for (const s of strings) assert.equal(after(s), before(s), JSON.stringify(s));
});
