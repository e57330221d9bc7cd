// The session list: this server's chat sessions and Claude Code's own past
// conversations for this folder (resumable). New, switch, rename, delete.
import { h, clear, when } from './dom.js';

export class Sessions {
  constructor({ list, claudeList, claudeHead, filter, onOpen, current, onRendered }) {
    this.onRendered = onRendered;
    this.filter = filter;
    filter?.addEventListener('input', () => this.refresh());
    this.list = list;
    this.claudeList = claudeList;
    this.claudeHead = claudeHead;
    this.onOpen = onOpen; // (id) → switch to it
    this.current = current; // () → id
    this.rows = [];
    this.live = new Map(); // id → {running, needsYou}, from notices
    this.loading = null;
    this.again = false; // a refresh was asked for while one was loading
    this.editing = null; // the input of a rename under way
  }

  async api(method, path, body) {
    const r = await fetch(new URL(path, document.baseURI), {
      method, headers: body ? { 'content-type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined, credentials: 'same-origin',
    });
    if (!r.ok) throw new Error(`${method} ${path}: ${r.status}`);
    return r.status === 204 ? null : r.json();
  }

  /** Reloads the list; calls while one is loading are merged into one more. */
  async refresh() {
    if (this.loading) { this.again = true; return this.loading; }
    this.loading = (async () => {
      try {
        const data = await this.api('GET', 'api/sessions?limit=200');
        this.rows = data.sessions || [];
        // Filtered by title: the server searches every session, not only
        // the newest 200 (`rows` stays whole: titles of the open session).
        const q = this.filter?.value.trim();
        if (q) {
          const found = await this.api('GET', `api/sessions?limit=200&q=${encodeURIComponent(q)}`);
          this.render({ ...data, sessions: found.sessions || [] }, q);
        } else this.render(data);
        this.onRendered?.();
      } catch (e) { console.warn('session list', e); }
    })();
    await this.loading;
    this.loading = null;
    if (this.again) { this.again = false; return this.refresh(); }
  }

  title(id) { return this.rows.find((r) => r.id === id)?.title; }

  /** A session's live state (a notice, or the current tab's own view). */
  setStatus(id, running, needsYou) {
    // Called on every render of the current session: only a change costs.
    const was = this.live.get(id);
    if (was && was.running === running && was.needsYou === needsYou) return;
    this.live.set(id, { running, needsYou });
    const li = [...this.list.children].find((x) => x.dataset.id === id);
    if (li) this.paint(li, running, needsYou);
  }

  paint(li, running, needsYou) {
    const dot = li.querySelector('.dot');
    if (!dot) return;
    dot.hidden = !running && !needsYou;
    dot.classList.toggle('needs', Boolean(needsYou));
    dot.setAttribute('aria-label', needsYou ? 'needs you' : 'running');
    li.classList.toggle('needs-you', Boolean(needsYou));
  }

  render(data, filtered = '') {
    // A row being renamed stays as it is, in its place (the typed name, its
    // focus and selection): notices redraw the list at any moment, and a
    // redraw under the input threw the edit away. The rows around it are
    // drawn anew; it goes only with its session.
    const editing = this.editing?.isConnected ? this.editing.closest('li') : null;
    for (const row of [...this.list.children]) if (row !== editing) row.remove();
    let before = editing; // rows ahead of it go before it, the rest after
    const cur = this.current();
    for (const s of data.sessions || []) {
      if (editing && s.id === editing.dataset.id) { before = null; continue; }
      const name = h('span', { class: 'name' }, h('span', { class: 'dot', hidden: true }), s.title || 'Untitled session');
      const open = h('button', { type: 'button', class: 'open', 'aria-current': s.id === cur ? 'page' : undefined, onclick: () => this.onOpen(s.id) },
        name, h('span', { class: 'when' }, when(s.updatedMs)));
      const li = h('li', { class: s.id === cur ? 'current' : '', dataset: { id: s.id } }, open,
        h('span', { class: 'row-actions' },
          h('button', { type: 'button', 'aria-label': `Rename ${s.title || 'session'}`, title: 'Rename', onclick: () => this.rename(li, s) }, '✎'),
          h('button', { type: 'button', 'aria-label': `Delete ${s.title || 'session'}`, title: 'Delete', onclick: () => this.remove(s) }, '×')));
      if (before) before.before(li); else this.list.append(li);
      const live = this.live.get(s.id);
      this.paint(li, live ? live.running : s.status === 'running', live?.needsYou);
    }
    // Its session is gone (deleted in another tab), or filtered out.
    if (editing && before) editing.remove();
    if (!(data.sessions || []).length) this.list.append(h('li', { class: 'notice' }, filtered ? `No session titled “${filtered}”` : 'No sessions yet'));
    clear(this.claudeList);
    const past = data.claude || [];
    this.claudeHead.hidden = !past.length;
    for (const c of past) {
      this.claudeList.append(h('li', { dataset: { claude: c.id } }, h('button', { type: 'button', class: 'open', title: 'Resume this conversation', onclick: () => this.resume(c.id) },
        h('span', { class: 'name' }, c.title || c.id), h('span', { class: 'when' }, when(Date.parse(c.updated) || 0)))));
    }
  }

  rename(li, s) {
    const input = h('input', { type: 'text', value: s.title || '', 'aria-label': 'New session name' });
    this.editing = input;
    const done = async (save) => {
      // Once: Enter or Escape, then the blur of the input leaving the page.
      if (this.editing !== input) return;
      this.editing = null;
      if (save && input.value.trim()) {
        try { await this.api('PATCH', `api/sessions/${encodeURIComponent(s.id)}`, { title: input.value.trim() }); } catch (e) { console.warn(e); }
      }
      this.refresh();
    };
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') { e.preventDefault(); done(true); }
      if (e.key === 'Escape') { e.preventDefault(); done(false); }
    });
    input.addEventListener('blur', () => done(true), { once: true });
    li.replaceChildren(input);
    input.focus();
    input.select();
  }

  async remove(s) {
    if (!confirm(`Delete “${s.title || 'Untitled session'}” and its history?`)) return;
    try { await this.api('DELETE', `api/sessions/${encodeURIComponent(s.id)}`); } catch (e) { console.warn(e); }
    if (s.id === this.current()) this.onOpen(null);
    this.refresh();
  }

  async resume(claudeId) {
    try {
      const r = await this.api('POST', 'api/sessions', { resume: claudeId });
      await this.refresh();
      this.onOpen(r.id);
    } catch (e) { console.warn(e); }
  }
}
