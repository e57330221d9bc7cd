// The message box: Enter sends, Shift+Enter breaks the line, `@` opens the
// file picker, `/` at the start offers the agent's slash commands, Esc stops.
import { Picker } from './picker.js';
import { filterCommands } from './commands.js';

export class Composer {
  constructor({ form, input, picker, send, stop, slash, running, connected, onWaiting, onSent, tray }) {
    this.form = form;
    this.tray = tray; // files for the next message (AttachTray)
    this.onSent = onSent; // called in the user's gesture of sending
    this.connected = connected; // () → bool
    this.onWaiting = onWaiting; // (bool) → the "will send" note shown or not
    this.waiting = null; // a message typed while offline
    this.input = input;
    this.send = send; // (frame) → bool
    this.stop = stop;
    this.slash = slash; // () → [{name, description}]
    this.running = running; // () → bool
    this.asked = 0; // fuzzy searches not answered yet
    this.token = null; // {kind:'@'|'/', start, query}
    this.picker = new Picker(picker, { onChoose: (it) => this.insert(it), input });
    form.addEventListener('submit', (e) => { e.preventDefault(); this.submit(); });
    input.addEventListener('keydown', (e) => this.key(e));
    input.addEventListener('input', () => { this.autosize(); this.lookup(); });
    input.addEventListener('click', () => this.lookup());
    input.addEventListener('paste', (e) => this.tray?.paste(e));
    // Clicking an option keeps the focus here (the picker cancels mousedown),
    // so a blur means the user really left the input.
    input.addEventListener('blur', () => this.picker.hide());
  }

  autosize() {
    this.input.style.height = 'auto';
    this.input.style.height = Math.min(this.input.scrollHeight + 2, window.innerHeight * 0.4) + 'px';
  }

  key(e) {
    if (e.isComposing) return;
    // A command typed out in full: Enter sends it rather than choosing it again.
    const chosen = this.picker.visible ? this.picker.items[this.picker.index] : null;
    if (e.key === 'Enter' && !e.shiftKey && this.token?.kind === '/' && chosen?.value === this.input.value.trim()) {
      e.preventDefault();
      this.picker.hide();
      this.submit();
      return;
    }
    if (this.picker.key(e)) { e.preventDefault(); return; }
    if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); this.submit(); return; }
    if (e.key === 'Escape' && this.running()) { e.preventDefault(); this.stop(); }
  }

  /** The message frame: the text and the files uploaded for it. */
  frame(text) {
    const ids = this.tray?.ids() || [];
    return ids.length ? { type: 'message', content: text, attachments: ids } : { type: 'message', content: text };
  }

  submit() {
    const text = this.input.value;
    if (!text.trim() && !this.tray?.ids().length) return;
    if (this.tray?.busy) { this.tray.flash('Still uploading: send when the files are ready.'); return; }
    if (this.tray?.tooMuch) { this.tray.flash('Over 20 MB of files together: remove some (one message carries at most 20 MB).'); return; }
    this.onSent?.();
    if (this.send(this.frame(text))) {
      this.sent();
    } else if (!this.connected()) {
      // Offline: kept in the box, sent (once) when the connection is back.
      this.waiting = text;
      this.onWaiting?.(true);
    }
  }

  sent() {
    this.input.value = '';
    this.tray?.clear();
    this.waiting = null;
    this.onWaiting?.(false);
    this.picker.hide();
    this.autosize();
  }

  /** The connection is back and the session joined: send what waited, once. */
  flush() {
    const text = this.waiting;
    if (!text) return;
    this.waiting = null;
    this.onWaiting?.(false);
    // Unless the user changed it meanwhile: then it is theirs to send.
    if (this.input.value === text && this.send(this.frame(text))) this.sent();
  }

  /** The `@word` or leading `/word` the cursor is in, if any. */
  currentToken() {
    const v = this.input.value, end = this.input.selectionStart ?? v.length;
    const before = v.slice(0, end);
    const at = /(^|\s)@([^\s@]*)$/.exec(before);
    if (at) return { kind: '@', start: end - at[2].length - 1, query: at[2] };
    const sl = /^\/([^\s]*)$/.exec(before);
    if (sl) return { kind: '/', start: 0, query: sl[1] };
    return null;
  }

  lookup() {
    const t = this.currentToken();
    this.token = t;
    if (!t) { this.picker.hide(); return; }
    if (t.kind === '/') {
      const q = t.query.toLowerCase();
      const found = filterCommands(this.slash(), q).slice(0, 50);
      this.picker.show(found.map(({ name, description }) => ({
        value: '/' + name, main: '/' + name, sub: description,
        marks: q ? [...Array(q.length)].map((_, k) => name.toLowerCase().indexOf(q) + 1 + k) : [],
      })), q ? `No command matches /${t.query}` : 'No commands yet (the agent announces its own when it starts)');
      return;
    }
    this.asked++;
    if (!this.send({ type: 'fuzzy_search', query: t.query, maxResults: 30 })) this.asked--;
  }

  /** A `fuzzy_search_results` reply. Only the answer to the newest query is shown. */
  results(frame) {
    this.asked = Math.max(0, this.asked - 1);
    if (this.asked || !this.token || this.token.kind !== '@') return;
    let hits = [];
    try { hits = JSON.parse(frame.content) || []; } catch { hits = []; }
    this.picker.show(hits.map((r) => ({
      value: r.file.relPath + (r.file.isDir ? '/' : ''),
      main: r.file.relPath + (r.file.isDir ? '/' : ''),
      sub: r.file.isDir ? 'folder' : r.recent ? 'changed lately' : '',
      marks: r.matches || [],
    })), this.token.query ? 'No files match' : 'No files');
  }

  insert(item) {
    const t = this.token;
    if (!t) return;
    const v = this.input.value, end = this.input.selectionStart ?? v.length;
    const text = t.kind === '@' ? '@' + item.value + ' ' : item.value + ' ';
    this.input.value = v.slice(0, t.start) + text + v.slice(end);
    const pos = t.start + text.length;
    this.input.setSelectionRange(pos, pos);
    this.input.focus();
    this.token = null;
    this.autosize();
  }
}
