// A small tokenizer for code blocks: comments, strings, numbers, keywords
// and calls, for the C-like, shell and Python families. Output is spans of
// text nodes; unknown languages come back as plain text.
import { h } from './dom.js';

const KEYWORDS = {
  c: 'as async await break case catch class const continue crate default defer do else enum export extends false final fn for func from go if impl import in interface let loop match mod move mut new nil null package pub return self Self static struct super switch this throw trait true try type typeof use var void where while yield',
  py: 'and as assert async await break class continue def del elif else except False finally for from global if import in is lambda None nonlocal not or pass raise return True try while with yield',
  sh: 'case do done elif else esac export fi for function if in local return then until while echo cd set unset',
};
const FAMILY = {
  rust: 'c', rs: 'c', js: 'c', javascript: 'c', ts: 'c', typescript: 'c', jsx: 'c', tsx: 'c', go: 'c',
  c: 'c', cpp: 'c', 'c++': 'c', h: 'c', java: 'c', kotlin: 'c', swift: 'c', cs: 'c', json: 'c', css: 'c',
  python: 'py', py: 'py', sh: 'sh', bash: 'sh', shell: 'sh', zsh: 'sh', console: 'sh',
  toml: 'sh', yaml: 'sh', yml: 'sh',
};
const sets = Object.fromEntries(Object.entries(KEYWORDS).map(([k, v]) => [k, new Set(v.split(' '))]));

export function familyOf(lang) { return FAMILY[String(lang || '').toLowerCase()] || null; }

/** Tokens of `code` as [class|null, text] pairs. */
export function tokens(code, family) {
  const out = [];
  const hashComments = family === 'py' || family === 'sh';
  const kw = sets[family] || sets.c;
  let i = 0, plain = '';
  const flush = () => { if (plain) { out.push([null, plain]); plain = ''; } };
  const push = (cls, text) => { flush(); out.push([cls, text]); };
  while (i < code.length) {
    const c = code[i], rest = code.slice(i, i + 2);
    if ((!hashComments && rest === '//') || (hashComments && c === '#')) {
      const end = code.indexOf('\n', i); const j = end < 0 ? code.length : end;
      push('c', code.slice(i, j)); i = j; continue;
    }
    if (!hashComments && rest === '/*') {
      const end = code.indexOf('*/', i + 2); const j = end < 0 ? code.length : end + 2;
      push('c', code.slice(i, j)); i = j; continue;
    }
    if (c === '"' || c === "'" || c === '`') {
      let j = i + 1;
      while (j < code.length && code[j] !== c && code[j] !== '\n') j += code[j] === '\\' ? 2 : 1;
      // A lone ' in Rust is a lifetime or char; only close on the same line.
      j = Math.min(j + 1, code.length);
      push('s', code.slice(i, j)); i = j; continue;
    }
    if (/[0-9]/.test(c) && !/[A-Za-z_0-9]/.test(code[i - 1] || '')) {
      const m = /^(0x[0-9a-fA-F_]+|[0-9][0-9_]*(\.[0-9_]+)?([eE][+-]?[0-9]+)?)[a-z0-9]*/.exec(code.slice(i));
      push('n', m[0]); i += m[0].length; continue;
    }
    if (/[A-Za-z_$]/.test(c)) {
      const m = /^[A-Za-z_$][A-Za-z0-9_$]*!?/.exec(code.slice(i));
      const word = m[0];
      if (kw.has(word)) push('k', word);
      else if (code[i + word.length] === '(' || word.endsWith('!')) push('f', word);
      else plain += word;
      i += word.length; continue;
    }
    plain += c; i += 1;
  }
  flush();
  return out;
}

/** A <code> element with highlighted spans (plain text for unknown languages). */
export function highlighted(code, lang) {
  const family = familyOf(lang);
  const el = h('code');
  // Very long blocks stay plain: tokenizing them costs more than it helps.
  if (!family || code.length > 200_000) { el.textContent = code; return el; }
  for (const [cls, text] of tokens(code, family)) {
    el.append(cls ? h('span', { class: 'tk-' + cls }, text) : document.createTextNode(text));
  }
  return el;
}
