// Line diffs for Edit / MultiEdit / Write cards and approvals.
import { h } from './dom.js';
import { highlightLines } from './highlight.js';

/** Line-level diff of two texts: [['=',line] | ['-',line] | ['+',line]]. */
export function diffLines(a, b) {
  const A = a === '' ? [] : a.split('\n'), B = b === '' ? [] : b.split('\n');
  // Common head and tail first: edits are usually small parts of big strings.
  let s = 0;
  while (s < A.length && s < B.length && A[s] === B[s]) s++;
  let e = 0;
  while (e < A.length - s && e < B.length - s && A[A.length - 1 - e] === B[B.length - 1 - e]) e++;
  const a2 = A.slice(s, A.length - e), b2 = B.slice(s, B.length - e);
  const out = A.slice(0, s).map((l) => ['=', l]);
  if (a2.length * b2.length > 4_000_000) {
    // Too big for the table: show all removed, then all added.
    for (const l of a2) out.push(['-', l]);
    for (const l of b2) out.push(['+', l]);
  } else {
    // Longest common subsequence table, from the end.
    const n = a2.length, m = b2.length;
    const t = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
    for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--)
      t[i][j] = a2[i] === b2[j] ? t[i + 1][j + 1] + 1 : Math.max(t[i + 1][j], t[i][j + 1]);
    let i = 0, j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && a2[i] === b2[j]) { out.push(['=', a2[i]]); i++; j++; }
      // Removals before additions, as diffs are usually read.
      else if (i < n && (j === m || t[i + 1][j] >= t[i][j + 1])) out.push(['-', a2[i++]]);
      else out.push(['+', b2[j++]]);
    }
  }
  for (const l of A.slice(A.length - e)) out.push(['=', l]);
  return out;
}

/** A diff view; unchanged runs longer than 2*context collapse to a gap line. */
export function diffView(file, before, after, context = 3) {
  const lines = diffLines(before ?? '', after ?? '');
  const el = h('div', { class: 'diff', role: 'figure', 'aria-label': `Changes to ${file || 'file'}` });
  if (file) el.append(h('div', { class: 'file' }, file));
  const keep = lines.map(() => false);
  lines.forEach(([op], i) => {
    if (op !== '=') for (let k = Math.max(0, i - context); k <= Math.min(lines.length - 1, i + context); k++) keep[k] = true;
  });
  let gap = 0;
  const texts = [], spans = [];
  lines.forEach(([op, text], i) => {
    if (!keep[i] && lines.some(([o]) => o !== '=')) { gap++; return; }
    if (gap) { el.append(h('div', { class: 'ln gap' }, `  … ${gap} unchanged line${gap > 1 ? 's' : ''}`)); gap = 0; }
    const cls = op === '+' ? 'add' : op === '-' ? 'del' : '';
    const code = h('span', null, text);
    texts.push(text);
    spans.push(code);
    el.append(h('div', { class: 'ln ' + cls }, (op === '=' ? ' ' : op) + ' ', code));
  });
  if (gap) el.append(h('div', { class: 'ln gap' }, `  … ${gap} unchanged line${gap > 1 ? 's' : ''}`));
  // Coloured by the file's language, line by line, once its grammar is here.
  highlightLines(String(file || '').split(/\s/)[0], texts, spans);
  return el;
}
