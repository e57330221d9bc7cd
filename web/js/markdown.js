// Markdown → DOM, for agent text. Parsed by markdown-it (CommonMark, GFM
// tables, strikethrough and autolinks, footnotes; raw HTML off, so it stays
// text); the DOM is built here from its token stream with elements and text
// nodes only — never an HTML string — from a fixed set of tags. Links keep
// only http(s), mailto and in-page (#) targets; images become links (the
// CSP allows no image from elsewhere). Task-list items get a checkbox.
import { copyButton, h } from './dom.js';
import { highlighted } from './highlight.js';
import { MarkdownIt, footnote } from './vendor-markdown-it.js';

// `breaks`: a single line break in agent text is a break (tables of numbers
// like `/cost` output would otherwise run together), as in GitHub comments.
const md = new MarkdownIt({ html: false, linkify: true, typographer: false, breaks: true }).use(footnote);
// Fuzzy matching finds `www.` links; bare names (`main.rs`, `setup.py`:
// TLDs too) are dropped again in `open`, as GFM does.
md.linkify.set({ fuzzyLink: true, fuzzyEmail: false });

// Tags a token may create; anything else renders its content only.
const TAGS = new Set(['p', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'ul', 'ol', 'li', 'blockquote', 'hr', 'br',
  'table', 'thead', 'tbody', 'tr', 'th', 'td', 'strong', 'em', 'del', 'code', 'a', 'section', 'sup', 'dl', 'dt', 'dd']);
const SAFE_URL = /^(https?:\/\/|mailto:|#)/i;
// markdown-it parses about a byte per microsecond: past this much, the rest
// of a reply is shown as plain text, so even a 1 MB reply renders in well
// under 200 ms (and a streaming one is re-rendered cheaply).
export const MARKDOWN_MAX = 64 * 1024;

/** Renders `src` into a new element of class `md`. */
export function renderMarkdown(src) {
  const root = h('div', { class: 'md' });
  const text = String(src ?? '');
  let head = text, rest = '';
  if (text.length > MARKDOWN_MAX) {
    // Cut at a paragraph break when there is one near the limit.
    const brk = text.lastIndexOf('\n\n', MARKDOWN_MAX);
    const at = brk > MARKDOWN_MAX / 2 ? brk : MARKDOWN_MAX;
    head = text.slice(0, at);
    rest = text.slice(at);
  }
  try {
    build(md.parse(head, {}), root);
  } catch {
    root.replaceChildren(document.createTextNode(head));
  }
  if (rest) {
    root.append(h('div', { class: 'label' }, `The reply is ${Math.round(text.length / 1024)} KB; its last ${Math.round(rest.length / 1024)} KB are shown as plain text.`),
      h('pre', { class: 'wrap plain-rest' }, rest));
  }
  return root;
}

function safeHref(href) {
  const s = String(href || '').trim();
  return SAFE_URL.test(s) ? s : null;
}

/** Appends the elements of a (block or inline) token list to `root`. */
function build(tokens, root) {
  const stack = [root];
  const top = () => stack[stack.length - 1];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (t.nesting === 1) {
      // A tight list's paragraphs are hidden: their text goes in the item.
      stack.push(t.hidden ? top() : open(t, top(), tokens[i + 1]));
    } else if (t.nesting === -1) {
      if (stack.length > 1) stack.pop();
    } else {
      leaf(t, top());
    }
  }
}

/** The element an `_open` token starts (`next` follows it), appended to `parent`. */
function open(t, parent, next) {
  let tag = t.tag === 's' ? 'del' : t.tag;
  if (t.type === 'footnote_block_open') tag = 'section';
  else if (t.type === 'footnote_open') tag = 'li';
  else if (t.type === 'footnote_reference_open') tag = 'sup';
  if (!TAGS.has(tag)) {
    // Unknown structure: keep its content in a plain container.
    const span = h('span');
    parent.append(span);
    return span;
  }
  // The page's outline is h1 (the session), h2 (the conversation): an
  // agent's `#` is an h3, down to h6; its class keeps the level it wrote.
  const level = /^h([1-6])$/.exec(tag)?.[1];
  const el = document.createElement(level ? `h${Math.min(6, Number(level) + 2)}` : tag);
  if (level) el.className = `md-h${level}`;
  if (tag === 'a') {
    const bare = t.markup === 'linkify' && !/^(https?:\/\/|www\.)/i.test(next?.content || '');
    const href = bare ? null : safeHref(t.attrGet('href'));
    if (!href) {
      // An unsafe target: the label as text, no link.
      const span = h('span');
      parent.append(span);
      return span;
    }
    el.setAttribute('href', href);
    if (!href.startsWith('#')) { el.target = '_blank'; el.rel = 'noopener noreferrer nofollow'; }
  } else if (tag === 'ol') {
    const start = Number(t.attrGet('start'));
    if (Number.isInteger(start) && start !== 1) el.setAttribute('start', String(start));
  } else if (tag === 'th' || tag === 'td') {
    const align = /text-align:(left|right|center)/.exec(t.attrGet('style') || '');
    if (align) el.style.textAlign = align[1];
  } else if (t.type === 'footnote_block_open') {
    el.className = 'footnotes';
    el.append(document.createElement('hr'));
    const ol = document.createElement('ol');
    el.append(ol);
    parent.append(el);
    return ol;
  } else if (t.type === 'footnote_open') {
    el.id = `fn-${t.meta?.id ?? 0}`;
  }
  parent.append(el);
  return el;
}

function leaf(t, parent) {
  switch (t.type) {
    case 'inline': inlineInto(t.children || [], parent); break;
    case 'text': parent.append(document.createTextNode(t.content)); break;
    case 'code_inline': parent.append(h('code', null, t.content)); break;
    case 'softbreak': parent.append(h('br')); break; // `breaks`: as GitHub comments do
    case 'hardbreak': parent.append(h('br')); break;
    case 'hr': parent.append(h('hr')); break;
    case 'fence': case 'code_block': {
      const lang = (t.info || '').trim().split(/\s+/)[0];
      const code = t.content.replace(/\n$/, '');
      const pre = h('pre', null, highlighted(code, lang));
      parent.append(h('div', { class: 'codeblock' }, lang ? h('span', { class: 'lang' }, lang) : null, copyButton('Copy code', code), pre));
      break;
    }
    case 'image': {
      const href = safeHref(t.attrGet('src'));
      const alt = t.content || 'image';
      parent.append(href ? h('a', { href, target: '_blank', rel: 'noopener noreferrer nofollow', class: 'image-link' }, `🖼 ${alt}`) : document.createTextNode(alt));
      break;
    }
    case 'footnote_ref': {
      const id = t.meta?.id ?? 0;
      const n = String(id + 1);
      parent.append(h('sup', { class: 'footnote-ref' }, h('a', { href: `#fn-${id}` }, `[${n}]`)));
      break;
    }
    case 'footnote_anchor': break; // the back-reference: not needed in a chat
    case 'html_block': case 'html_inline': parent.append(document.createTextNode(t.content)); break;
    default:
      if (t.content) parent.append(document.createTextNode(t.content));
  }
}

/** Inline tokens of a paragraph or cell; `[ ]` / `[x]` opening a list item become checkboxes. */
function inlineInto(children, parent) {
  const first = children[0];
  const item = parent.tagName === 'LI' ? parent
    : parent.tagName === 'P' && parent.parentElement?.tagName === 'LI' && !parent.previousSibling ? parent.parentElement : null;
  if (item && !parent.firstChild && first?.type === 'text' && /^\[[ xX]\] /.test(first.content)) {
    const done = first.content[1] !== ' ';
    item.classList.add('task');
    parent.append(h('input', { type: 'checkbox', checked: done, disabled: true, 'aria-label': done ? 'done' : 'to do' }));
    children = [{ type: 'text', nesting: 0, content: first.content.slice(3) }, ...children.slice(1)];
  }
  build(children, parent);
}
