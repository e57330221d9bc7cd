// Building DOM without HTML strings: every text goes through a text node,
// so nothing an agent prints can become markup.

/** h('div', {class: 'x', onclick: f}, 'text', child, [more]) */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'class') el.className = v;
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (v === true) el.setAttribute(k, '');
      else el.setAttribute(k, String(v));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

/** Short, human time of a millisecond timestamp. */
export function when(ms) {
  if (!ms) return '';
  const d = new Date(ms);
  const now = new Date();
  if (d.toDateString() === now.toDateString()) return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return d.toLocaleDateString([], { month: 'short', day: 'numeric' });
}

/** "just now", "5 min ago", "3 h ago", then the date. */
export function relative(ms, now = Date.now()) {
  const s = Math.round((now - ms) / 1000);
  if (s < 45) return 'just now';
  if (s < 3600) return `${Math.max(1, Math.round(s / 60))} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return when(ms);
}

/** A <time> that says how long ago `ms` was and, on hover, exactly when. */
export function timeAgo(ms) {
  const d = new Date(ms);
  return h('time', { class: 'ago', datetime: d.toISOString(), title: d.toLocaleString(), dataset: { ms } }, relative(ms));
}

/** Brings every timeAgo() under `root` up to date. */
export function refreshTimes(root) {
  const now = Date.now();
  for (const t of root.querySelectorAll('time.ago')) t.textContent = relative(Number(t.dataset.ms), now);
}

/** $0.0123: enough digits for a cheap turn. */
export function money(amount, currency = 'USD') {
  const n = amount >= 1 ? amount.toFixed(2) : amount.toFixed(4);
  return currency === 'USD' ? `$${n}` : `${n} ${currency}`;
}

/** 12,345 → "12k" in tight places. */
export function kTokens(n) {
  return n >= 10000 ? `${Math.round(n / 1000)}k` : n.toLocaleString();
}

const ICONS = {
  // A paper clip and a page, drawn as strokes (no emoji font needed).
  clip: 'M16.5 6.5 8.9 14.1a2 2 0 0 0 2.8 2.8l7.6-7.6a4 4 0 0 0-5.6-5.6l-7.8 7.8a6 6 0 0 0 8.5 8.5l6.4-6.4',
  file: 'M14 3H7a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2V8zM14 3v5h5',
  search: 'M10.5 4a6.5 6.5 0 1 0 0 13 6.5 6.5 0 0 0 0-13zM20 20l-4.8-4.8',
};

/** A small stroked icon (`clip`, `file`), hidden from assistive technology. */
export function icon(name) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', `icon-svg icon-${name}`);
  svg.setAttribute('aria-hidden', 'true');
  const p = document.createElementNS(ns, 'path');
  p.setAttribute('d', ICONS[name]);
  svg.append(p);
  return svg;
}

export function truncate(s, n) {
  s = String(s ?? '');
  return s.length > n ? s.slice(0, n - 1) + '…' : s;
}

/** Copies `text` to the clipboard; the button says so for a moment. */
export function copyButton(label, text) {
  // The visible word is CSS (`data-label`): it stays out of the transcript's text.
  const b = actionButton('copy', label, 'Copy');
  b.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(typeof text === 'function' ? text() : text);
      b.dataset.label = 'Copied';
    } catch {
      b.dataset.label = 'Copy failed';
    }
    setTimeout(() => { b.dataset.label = 'Copy'; }, 1500);
  });
  return b;
}

/** A small button whose word is drawn by CSS, named for assistive technology by `label`. */
export function actionButton(cls, label, word, onclick) {
  return h('button', { type: 'button', class: cls, 'aria-label': label, title: label, dataset: { label: word }, onclick });
}
