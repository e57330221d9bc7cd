// The suggestion list above the input: `@` files (fuzzy, from the server)
// and `/` commands (from the agent's init). Keyboard: ↑ ↓ Enter Tab Esc.
import { h, clear } from './dom.js';

export class Picker {
  /** `input`: the box the list belongs to (its aria-activedescendant follows the list). */
  constructor(el, { onChoose, input }) {
    this.el = el;
    this.input = input;
    // The box is a multi-line textarea: ARIA allows it neither the combobox
    // role nor aria-expanded (axe: critical). It owns the list through
    // aria-controls and aria-activedescendant; opening and closing are said
    // by a live status instead of an expanded state.
    input?.setAttribute('aria-controls', el.id);
    input?.setAttribute('aria-autocomplete', 'list');
    this.status = h('div', { class: 'visually-hidden', role: 'status', 'aria-live': 'polite' });
    el.after(this.status);
    this.onChoose = onChoose;
    this.items = [];
    this.index = 0;
    el.addEventListener('mousedown', (e) => e.preventDefault()); // keep focus in the input
  }

  get visible() { return !this.el.hidden; }

  /** `items`: [{value, main, sub, marks:[positions in main]}] */
  show(items, emptyText) {
    this.items = items;
    this.index = 0;
    clear(this.el);
    if (!items.length) {
      this.el.append(h('div', { class: 'none' }, emptyText || 'No matches'));
    }
    items.forEach((it, i) => {
      const main = h('span', { class: 'main' });
      const marks = new Set(it.marks || []);
      [...it.main].forEach((ch, k) => main.append(marks.has(k) ? h('mark', null, ch) : ch));
      const opt = h('div', { class: 'opt', role: 'option', id: `pick-${i}`, 'aria-selected': i === 0 ? 'true' : 'false',
        onclick: () => { this.index = i; this.choose(); } }, main, it.sub ? h('span', { class: 'sub' }, it.sub) : null);
      this.el.append(opt);
    });
    this.el.hidden = false;
    this.el.setAttribute('aria-label', `Suggestions: ${items.length}`);
    this.status.textContent = items.length ? `${items.length} suggestion${items.length === 1 ? '' : 's'}, up and down to choose, Enter to take` : (emptyText || 'No matches');
    this.sync();
  }

  hide() {
    this.el.hidden = true;
    this.items = [];
    this.status.textContent = '';
    this.input?.removeAttribute('aria-activedescendant');
  }

  move(d) {
    if (!this.items.length) return;
    this.index = (this.index + d + this.items.length) % this.items.length;
    this.sync();
  }

  sync() {
    if (this.items.length) this.input?.setAttribute('aria-activedescendant', `pick-${this.index}`);
    else this.input?.removeAttribute('aria-activedescendant');
    [...this.el.querySelectorAll('.opt')].forEach((o, i) => {
      o.setAttribute('aria-selected', i === this.index ? 'true' : 'false');
      if (i === this.index) o.scrollIntoView({ block: 'nearest' });
    });
  }

  choose() {
    const it = this.items[this.index];
    this.hide();
    if (it) this.onChoose(it);
  }

  /** Handles a key while shown; true when the key was used. */
  key(e) {
    if (!this.visible) return false;
    if (e.key === 'ArrowDown') { this.move(1); return true; }
    if (e.key === 'ArrowUp') { this.move(-1); return true; }
    if ((e.key === 'Enter' || e.key === 'Tab') && this.items.length) { this.choose(); return true; }
    if (e.key === 'Escape') { this.hide(); return true; }
    return false;
  }
}
