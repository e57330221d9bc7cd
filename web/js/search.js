// Find in the conversation: every hit highlighted (CSS Custom Highlight API,
// so the transcript's DOM is not touched), the current one marked and
// scrolled to; Enter / Shift+Enter or the arrows go to the next / previous.
// Hits inside a folded card open it when they become current.

const MAX_HITS = 5000;

export class TranscriptSearch {
  constructor({ bar, input, count, prev, next, close, root, open }) {
    Object.assign(this, { bar, input, count, root });
    this.hits = [];
    this.current = -1;
    this.supported = typeof CSS !== 'undefined' && 'highlights' in CSS && typeof Highlight === 'function';
    input.addEventListener('input', () => this.run());
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') { e.preventDefault(); this.step(e.shiftKey ? -1 : 1); }
      if (e.key === 'Escape') { e.preventDefault(); this.hide(); }
    });
    prev.addEventListener('click', () => this.step(-1));
    next.addEventListener('click', () => this.step(1));
    close.addEventListener('click', () => this.hide());
    open.addEventListener('click', () => this.show());
    document.addEventListener('keydown', (e) => {
      // Ctrl/Cmd+Shift+F: the browser's own find stays on Ctrl+F.
      if ((e.ctrlKey || e.metaKey) && e.shiftKey && e.key.toLowerCase() === 'f') { e.preventDefault(); this.show(); }
    });
  }

  show() {
    this.bar.hidden = false;
    this.input.focus();
    this.input.select();
    this.run();
  }

  hide() {
    this.bar.hidden = true;
    this.clear();
    document.getElementById('input')?.focus();
  }

  clear() {
    this.hits = [];
    this.current = -1;
    if (this.supported) { CSS.highlights.delete('search-hit'); CSS.highlights.delete('search-current'); }
    this.count.textContent = '';
  }

  /** Finds every hit of the query in the transcript's text. */
  run() {
    const q = this.input.value.trim().toLowerCase();
    this.clear();
    if (!q) return;
    const walker = document.createTreeWalker(this.root, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n && this.hits.length < MAX_HITS; n = walker.nextNode()) {
      // Buttons' words are CSS; hidden helpers are not what the reader sees.
      if (n.parentElement?.closest('.msg-actions, .visually-hidden, button')) continue;
      const text = n.data.toLowerCase();
      for (let i = text.indexOf(q); i !== -1 && this.hits.length < MAX_HITS; i = text.indexOf(q, i + q.length)) {
        const r = new Range();
        r.setStart(n, i);
        r.setEnd(n, i + q.length);
        this.hits.push(r);
      }
    }
    if (this.supported) CSS.highlights.set('search-hit', new Highlight(...this.hits));
    // Start at the newest hit: the end of the conversation is where one reads.
    this.go(this.hits.length - 1);
  }

  step(d) {
    if (!this.hits.length) return;
    this.go((this.current + d + this.hits.length) % this.hits.length);
  }

  go(i) {
    this.current = i;
    const total = this.hits.length;
    this.count.textContent = total ? `${i + 1} of ${total}${total >= MAX_HITS ? '+' : ''}` : 'No matches';
    this.bar.dataset.hits = String(total);
    if (i < 0) return;
    const r = this.hits[i];
    // A hit in a folded card or thinking block: unfold it.
    for (let d = r.startContainer.parentElement?.closest('details'); d; d = d.parentElement?.closest('details')) d.open = true;
    if (this.supported) CSS.highlights.set('search-current', new Highlight(r));
    r.startContainer.parentElement?.scrollIntoView({ block: 'center' });
  }
}
