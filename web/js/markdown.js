// Markdown → DOM, for agent text. Built from elements and text nodes only:
// raw HTML in the source is shown as text, links are limited to http(s) and
// mailto. Covers what models write: headings, paragraphs, emphasis, code
// spans and fenced blocks, lists (nested), quotes, tables, rules, links.
import { h } from './dom.js';
import { highlighted } from './highlight.js';

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)[^`]*$/;
const HEADING = /^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const HR = /^ {0,3}([-*_])(\s*\1){2,}\s*$/;
const ITEM = /^( {0,12})([-*+]|\d{1,9}[.)])\s+(.*)$/;
const QUOTE = /^ {0,3}>\s?(.*)$/;
const TABLE_SEP = /^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$/;

/** Renders `src` into a new element of class `md`. */
export function renderMarkdown(src) {
  const root = h('div', { class: 'md' });
  blocks(String(src ?? '').replace(/\r\n?/g, '\n').split('\n'), root);
  return root;
}

function blocks(lines, parent) {
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (!line.trim()) { i++; continue; }
    let m;
    if ((m = FENCE.exec(line))) {
      const fence = m[1], lang = m[2];
      const body = [];
      i++;
      while (i < lines.length && !(lines[i].trim().startsWith(fence[0].repeat(fence.length)) && !lines[i].trim().slice(fence.length).trim())) body.push(lines[i++]);
      i++; // the closing fence (absent while a reply is still streaming)
      const pre = h('pre', null, highlighted(body.join('\n'), lang));
      parent.append(lang ? h('div', { class: 'codeblock' }, h('span', { class: 'lang' }, lang), pre) : pre);
      continue;
    }
    if ((m = HEADING.exec(line))) {
      parent.append(inline(h('h' + m[1].length), m[2]));
      i++; continue;
    }
    if (HR.test(line)) { parent.append(h('hr')); i++; continue; }
    if (QUOTE.test(line)) {
      const body = [];
      while (i < lines.length && lines[i].trim() && (m = QUOTE.exec(lines[i]) || [null, lines[i]])) { body.push(m[1]); i++; }
      const q = h('blockquote');
      blocks(body, q);
      parent.append(q);
      continue;
    }
    if (ITEM.test(line)) { i = list(lines, i, parent); continue; }
    if (line.includes('|') && i + 1 < lines.length && TABLE_SEP.test(lines[i + 1])) { i = table(lines, i, parent); continue; }
    const para = [];
    while (i < lines.length && lines[i].trim() && !FENCE.test(lines[i]) && !HEADING.test(lines[i])
      && !HR.test(lines[i]) && !QUOTE.test(lines[i]) && !(para.length && ITEM.test(lines[i]))) para.push(lines[i++]);
    if (!para.length) para.push(lines[i++]);
    const p = h('p');
    para.forEach((l, k) => {
      if (k) p.append(/ {2,}$|\\$/.test(para[k - 1]) ? h('br') : document.createTextNode('\n'));
      inline(p, l.replace(/ {2,}$|\\$/, '').trim());
    });
    parent.append(p);
  }
}

function list(lines, i, parent) {
  const first = ITEM.exec(lines[i]);
  const indent = first[1].length;
  const ordered = /\d/.test(first[2]);
  const el = h(ordered ? 'ol' : 'ul');
  if (ordered && parseInt(first[2], 10) !== 1) el.setAttribute('start', parseInt(first[2], 10));
  while (i < lines.length) {
    const m = ITEM.exec(lines[i]);
    if (!m || m[1].length !== indent || /\d/.test(m[2]) !== ordered) break;
    const body = [m[3]];
    i++;
    // Continuation: more-indented lines (nested lists, wrapped text), and blank lines inside.
    while (i < lines.length) {
      const l = lines[i];
      const lead = l.length - l.trimStart().length;
      if (l.trim() && lead > indent) { body.push(l.slice(Math.min(lead, indent + 2))); i++; continue; }
      if (!l.trim() && i + 1 < lines.length && (lines[i + 1].length - lines[i + 1].trimStart().length) > indent) { body.push(''); i++; continue; }
      break;
    }
    const li = h('li');
    const task = /^\[([ xX])\]\s+/.exec(body[0]);
    if (task) {
      li.append(h('span', { class: 'box', 'aria-hidden': 'true' }, task[1] === ' ' ? '☐ ' : '☑ '));
      body[0] = body[0].slice(task[0].length);
    }
    if (body.length === 1) inline(li, body[0]);
    else blocks(body, li);
    // A single paragraph in an item renders without the <p>.
    if (li.children.length === 1 && li.firstElementChild.tagName === 'P' && !task) li.replaceChildren(...li.firstElementChild.childNodes);
    el.append(li);
    while (i < lines.length && !lines[i].trim() && i + 1 < lines.length && ITEM.test(lines[i + 1]) && ITEM.exec(lines[i + 1])[1].length === indent) i++;
  }
  parent.append(el);
  return i;
}

function cells(line) {
  let s = line.trim();
  if (s.startsWith('|')) s = s.slice(1);
  if (s.endsWith('|') && !s.endsWith('\\|')) s = s.slice(0, -1);
  return s.split(/(?<!\\)\|/).map((c) => c.trim().replace(/\\\|/g, '|'));
}

function table(lines, i, parent) {
  const head = cells(lines[i]);
  const aligns = cells(lines[i + 1]).map((c) => (c.startsWith(':') && c.endsWith(':') ? 'center' : c.endsWith(':') ? 'right' : null));
  i += 2;
  const t = h('table');
  const tr = h('tr');
  head.forEach((c, k) => { const th = inline(h('th'), c); if (aligns[k]) th.style.textAlign = aligns[k]; tr.append(th); });
  t.append(h('thead', null, tr));
  const tb = h('tbody');
  while (i < lines.length && lines[i].includes('|') && lines[i].trim()) {
    const row = h('tr');
    cells(lines[i]).forEach((c, k) => { const td = inline(h('td'), c); if (aligns[k]) td.style.textAlign = aligns[k]; row.append(td); });
    tb.append(row);
    i++;
  }
  t.append(tb);
  parent.append(t);
  return i;
}

const SAFE_URL = /^(https?:|mailto:)/i;
// Sticky (matched at `lastIndex`, never on a copy of the rest of the text)
// and bounded: no pattern can scan further than a few KB from where it
// starts, so no input makes inline rendering quadratic.
// `(?=(…))\1` takes the whole run at once (an atomic group): a failed match
// does not retry every shorter run.
const LINK_TAIL = /\(\s*<?(?=([^\s)>]{0,2048}))\1>?(?:\s+"[^"\n]{0,512}")?\s*\)/y;
const AUTOLINK = /<(https?:\/\/[^\s>]{1,2048})>/y;
const BARE_URL = /https?:\/\/[^\s<>()]{0,2047}[^\s<>().,;:!?'"]/y;
const ESCAPABLE = /[\\`*_{}\[\]()#+\-.!|~<>]/;
/** Deeper nesting of emphasis, links and code than this is shown as text. */
const MAX_DEPTH = 8;
const LINK_TEXT_MAX = 1000;

/**
 * `indexOf` for a text scanned left to right: remembers, per needle, where
 * the last search found it (or that it is absent from there on), so every
 * needle costs one pass over the text in all. Emphasis soup (`*a ` × 40,000)
 * searched to the end at every `*`: 10 s for 120 KB.
 */
function searcher(text) {
  const memo = new Map();
  return (needle, from, ok = null) => {
    const m = memo.get(needle);
    if (m && from >= m.from && (m.at === -1 || from <= m.at)) return m.at;
    let at = text.indexOf(needle, from);
    while (ok && at >= 0 && !ok(at)) at = text.indexOf(needle, at + 1);
    memo.set(needle, { from, at });
    return at;
  };
}

/** Appends the inline content of `text` to `el`; returns `el`. */
export function inline(el, text, depth = 0) {
  if (depth > MAX_DEPTH) { el.append(document.createTextNode(text)); return el; }
  const find = searcher(text);
  let i = 0, plain = '';
  const flush = () => { if (plain) { el.append(document.createTextNode(plain)); plain = ''; } };
  const link = (href, label) => h('a', { href, target: '_blank', rel: 'noopener noreferrer nofollow' }, label);
  while (i < text.length) {
    const c = text[i];
    if (c === '\\' && i + 1 < text.length && ESCAPABLE.test(text[i + 1])) { plain += text[i + 1]; i += 2; continue; }
    if (c === '`') {
      let n = 1;
      while (text[i + n] === '`') n++;
      const run = '`'.repeat(n);
      // A closing run of exactly this length.
      const end = find(run, i + n, (at) => text[at - 1] !== '`' && text[at + n] !== '`');
      if (end > 0) { flush(); el.append(h('code', null, text.slice(i + n, end).replace(/^ (.*) $/, '$1'))); i = end + n; continue; }
      plain += run; i += n; continue;
    }
    if ((c === '*' || c === '_' || c === '~') && text[i + 1] === c) {
      const end = find(c + c, i + 2);
      if (end > i + 2) {
        flush();
        el.append(inline(h(c === '~' ? 'del' : 'strong'), text.slice(i + 2, end), depth + 1));
        i = end + 2; continue;
      }
    }
    if ((c === '*' || c === '_') && text[i + 1] && text[i + 1] !== ' ' && (c === '*' || !/\w/.test(text[i - 1] || ''))) {
      // A closer: not after a space, not part of a double.
      const end = find(c, i + 1, (at) => text[at - 1] !== ' ' && text[at + 1] !== c && text[at - 1] !== c);
      if (end > i + 1 && (c === '*' || !/\w/.test(text[end + 1] || ''))) {
        flush(); el.append(inline(h('em'), text.slice(i + 1, end), depth + 1)); i = end + 1; continue;
      }
    }
    if (c === '[') {
      const close = find(']', i + 1);
      // The target's `)` must be near: checked with the memo first, so a
      // text of `[a](` without any `)` is not scanned at every bracket.
      const paren = close > 0 && text[close + 1] === '(' ? find(')', close + 2) : -1;
      if (close > 0 && close - i <= LINK_TEXT_MAX && paren > 0 && paren - close < 2600) {
        LINK_TAIL.lastIndex = close + 1;
        const m = LINK_TAIL.exec(text);
        if (m) {
          // Read before the label is rendered: it may use LINK_TAIL too.
          const next = LINK_TAIL.lastIndex;
          flush();
          const label = text.slice(i + 1, close);
          if (SAFE_URL.test(m[1])) el.append(inline(link(m[1]), label, depth + 1));
          else inline(el, label, depth + 1);
          i = next; continue;
        }
      }
    }
    if (c === '<') {
      AUTOLINK.lastIndex = i;
      const m = AUTOLINK.exec(text);
      if (m) { flush(); el.append(link(m[1], m[1])); i = AUTOLINK.lastIndex; continue; }
    }
    if (c === 'h' && text.startsWith('http', i) && !/\w/.test(text[i - 1] || '')) {
      BARE_URL.lastIndex = i;
      const m = BARE_URL.exec(text);
      if (m) { flush(); el.append(link(m[0], m[0])); i = BARE_URL.lastIndex; continue; }
    }
    plain += c; i++;
  }
  flush();
  return el;
}
