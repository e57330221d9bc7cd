// Code highlighting with highlight.js grammars (39 languages) through
// lowlight, which returns a tree instead of HTML: the spans and text nodes
// are made here. The engine and each grammar are modules of their own,
// imported the first time a block in that language appears (the first paint
// carries neither): until they arrive the code shows as plain text, then its
// spans replace the text in place.
import { h } from './dom.js';
import { ALIASES, GRAMMARS } from './hl-langs.js';

let lowlight = null; // the engine, once loaded
let engine = null; // Promise of it
const loading = new Map(); // grammar name → Promise<boolean>
// Longer code stays plain: highlighting it costs more than it helps.
const MAX_CHARS = 200_000;

/** The grammar name for a fence's language or a file name's extension. */
export function languageOf(lang) {
  const key = String(lang || '').toLowerCase().replace(/^.*\./, '');
  return ALIASES[key] || null;
}

function load(name) {
  engine ??= import('./vendor-lowlight.js').then((m) => { lowlight = m.createLowlight(); });
  if (!loading.has(name)) {
    const grammar = Promise.all([engine, GRAMMARS[name]()]);
    loading.set(name, grammar.then(([, m]) => { lowlight.register(name, m.default); return true; }, () => false));
  }
  return loading.get(name);
}

const ready = (name) => lowlight !== null && lowlight.registered(name);

/** Appends the hast `nodes` (elements with classes, text) to `parent`. */
function append(parent, nodes) {
  for (const n of nodes) {
    if (n.type === 'text') parent.append(document.createTextNode(n.value));
    else if (n.type === 'element') {
      const cls = (n.properties?.className || []).filter((c) => /^hljs-[\w-]+$/.test(c)).join(' ');
      const span = cls ? h('span', { class: cls }) : h('span');
      append(span, n.children || []);
      parent.append(span);
    }
  }
}

/** Fills `el` with `code` highlighted as grammar `name` (plain text when it fails). */
function fill(el, code, name) {
  try {
    const tree = lowlight.highlight(name, code);
    el.replaceChildren();
    append(el, tree.children);
  } catch {
    el.textContent = code;
  }
}

/** A <code> element for `code` in language `lang`: highlighted now, or as soon as its grammar is loaded. */
export function highlighted(code, lang) {
  const el = h('code', null, code);
  const name = languageOf(lang);
  if (!name || code.length > MAX_CHARS) return el;
  el.dataset.lang = name;
  if (ready(name)) fill(el, code, name);
  else load(name).then((ok) => { if (ok) fill(el, code, name); });
  return el;
}

/** Highlights each line of `lines` as the language of `file` (diffs), into the given elements. */
export function highlightLines(file, lines, targets) {
  const name = languageOf(file);
  if (!name || lines.reduce((n, l) => n + l.length, 0) > MAX_CHARS) return;
  const run = () => lines.forEach((l, i) => fill(targets[i], l, name));
  if (ready(name)) run();
  else load(name).then((ok) => { if (ok) run(); });
}
