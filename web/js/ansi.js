// ANSI SGR colour codes (as CLIs print them) → spans with classes: 16
// colours, 256 and truecolor (`;` or `:` separated), bold, dim, italic,
// underline. Other escape sequences (cursor movement, erase, titles, OSC 8
// hyperlinks — their text stays) are dropped; a carriage return starts the
// line over, as a progress bar means it.
import { h } from './dom.js';

const SGR = /\x1b\[([0-9;:]*)m/g;
const OTHER = /\x1b(\[[0-9;:?<=>]*[ -\/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[()][A-Z0-9]|[=>78DEHMc])/g;
const PALETTE = ['#000000', '#cd3131', '#0dbc79', '#e5e510', '#2472c8', '#bc3fbc', '#11a8cd', '#e5e5e5'];

function color256(n) {
  if (n < 8) return PALETTE[n];
  if (n < 16) return ['#666666', '#f14c4c', '#23d18b', '#f5f543', '#3b8eea', '#d670d6', '#29b8db', '#ffffff'][n - 8];
  if (n < 232) {
    const v = n - 16, r = Math.floor(v / 36), g = Math.floor(v / 6) % 6, b = v % 6;
    const c = (x) => (x ? x * 40 + 55 : 0);
    return `rgb(${c(r)},${c(g)},${c(b)})`;
  }
  const g = (n - 232) * 10 + 8;
  return `rgb(${g},${g},${g})`;
}

/** Appends `text` with its colours to `parent`; `state` carries over lines. */
export function appendAnsi(parent, text, state = {}) {
  // What a carriage return overwrites is not shown; its colour codes still count.
  const cr = text.replace(/\r+\n/g, '\n').lastIndexOf('\r');
  if (cr >= 0) {
    const clean = text.replace(/\r+\n/g, '\n');
    apply(null, clean.slice(0, cr), state);
    return apply(parent, clean.slice(cr + 1), state);
  }
  return apply(parent, text, state);
}

/** Updates `state` by `text`'s codes and, unless `parent` is null, appends its text. */
function apply(parent, text, state) {
  let last = 0;
  const emit = (s) => {
    if (!parent) return;
    s = s.replace(OTHER, '');
    if (!s) return;
    const classes = [];
    if (state.bold) classes.push('a-b');
    if (state.dim) classes.push('a-d');
    if (state.italic) classes.push('a-i');
    if (state.underline) classes.push('a-u');
    if (typeof state.fg === 'number') classes.push('a' + state.fg);
    if (!classes.length && !state.fgRgb && !state.bgRgb) { parent.append(document.createTextNode(s)); return; }
    const span = h('span', { class: classes.join(' ') }, s);
    if (state.fgRgb) span.style.color = state.fgRgb;
    if (state.bgRgb) span.style.backgroundColor = state.bgRgb;
    parent.append(span);
  };
  for (const m of text.matchAll(SGR)) {
    emit(text.slice(last, m.index));
    last = m.index + m[0].length;
    const codes = m[1] === '' ? [0] : m[1].split(/[;:]/).map(Number);
    for (let i = 0; i < codes.length; i++) {
      const c = codes[i];
      if (c === 0) { for (const k of Object.keys(state)) delete state[k]; }
      else if (c === 1) state.bold = true;
      else if (c === 2) state.dim = true;
      else if (c === 3) state.italic = true;
      else if (c === 4) state.underline = true;
      else if (c === 22) { state.bold = false; state.dim = false; }
      else if (c === 23) state.italic = false;
      else if (c === 24) state.underline = false;
      else if ((c >= 30 && c <= 37) || (c >= 90 && c <= 97)) { state.fg = c; state.fgRgb = null; }
      else if (c === 39) { state.fg = null; state.fgRgb = null; }
      else if (c === 49) state.bgRgb = null;
      else if (c >= 40 && c <= 47) state.bgRgb = PALETTE[c - 40];
      else if (c >= 100 && c <= 107) state.bgRgb = color256(c - 92);
      else if (c === 38 || c === 48) {
        let col = null;
        if (codes[i + 1] === 5) { col = color256(codes[i + 2] ?? 0); i += 2; }
        else if (codes[i + 1] === 2) { col = `rgb(${codes[i + 2] ?? 0},${codes[i + 3] ?? 0},${codes[i + 4] ?? 0})`; i += 4; }
        if (c === 38) { state.fg = null; state.fgRgb = col; } else state.bgRgb = col;
      }
    }
  }
  emit(text.slice(last));
  return state;
}
