// Files for the next message: pasted, dropped on the page or chosen with the
// 📎 button. Each is uploaded to the session at once and shown as a chip (a
// thumbnail for an image) until the message goes; the message then names
// them by id. Where the agent takes no images, the chip says so.
import { h, icon } from './dom.js';

export const MAX_BYTES = 10 * 1024 * 1024;
export const MAX_FILES = 8;
export const MAX_MESSAGE_BYTES = 20 * 1024 * 1024;
const IMAGES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'];

export function isImage(mime) { return IMAGES.includes(mime); }

export function sizeText(n) {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MB` : n >= 1024 ? `${Math.round(n / 1024)} KB` : `${n} B`;
}

export class AttachTray {
  /** `session()`: the current session id; `takesImages()`: true, false or null (unknown). */
  constructor({ tray, button, picker, drop, session, takesImages, onChange }) {
    Object.assign(this, { tray, session, takesImages, onChange });
    this.items = []; // {file, chip, id?, state: 'up'|'ok'|'err', note}
    button.replaceChildren(icon('clip'));
    button.addEventListener('click', () => picker.click());
    picker.addEventListener('change', () => { this.add([...picker.files]); picker.value = ''; });
    drop.addEventListener('dragover', (e) => {
      if (![...(e.dataTransfer?.types || [])].includes('Files')) return;
      e.preventDefault();
      drop.classList.add('dropping');
    });
    drop.addEventListener('dragleave', (e) => { if (e.target === drop || !drop.contains(e.relatedTarget)) drop.classList.remove('dropping'); });
    drop.addEventListener('drop', (e) => {
      drop.classList.remove('dropping');
      if (!e.dataTransfer?.files?.length) return;
      e.preventDefault();
      this.add([...e.dataTransfer.files]);
    });
  }

  /** Pasted content: files (a screenshot) are attached, text is left to the box. */
  paste(e) {
    const files = [...(e.clipboardData?.files || [])];
    if (!files.length) return;
    e.preventDefault();
    this.add(files);
  }

  add(files) {
    for (const file of files) {
      if (this.items.length >= MAX_FILES) { this.flash(`At most ${MAX_FILES} files per message.`); break; }
      const item = { file, state: 'up', note: '' };
      if (file.size > MAX_BYTES) { item.state = 'err'; item.note = `over ${sizeText(MAX_BYTES)}`; }
      else if (!file.size) { item.state = 'err'; item.note = 'empty'; }
      this.items.push(item);
      if (item.state === 'up') this.upload(item);
    }
    this.render();
  }

  async upload(item) {
    const sid = this.session();
    try {
      if (!sid) throw new Error('no session yet');
      const url = new URL(`api/sessions/${encodeURIComponent(sid)}/attachments?name=${encodeURIComponent(item.file.name || 'pasted')}`, document.baseURI);
      const r = await fetch(url, { method: 'POST', body: item.file, headers: { 'content-type': item.file.type || 'application/octet-stream' }, credentials: 'same-origin' });
      if (!r.ok) throw new Error(r.status === 413 ? `over ${sizeText(MAX_BYTES)}` : `upload failed (${r.status})`);
      const meta = await r.json();
      item.id = meta.id;
      item.state = 'ok';
    } catch (e) {
      item.state = 'err';
      item.note = e.message;
    }
    if (this.items.includes(item)) this.render();
  }

  /** Ids of the uploaded files; `busy` while any is still uploading. */
  ids() { return this.items.filter((i) => i.state === 'ok').map((i) => i.id); }
  get busy() { return this.items.some((i) => i.state === 'up'); }
  /** The uploaded files are more than one message may carry. */
  get tooMuch() { return this.items.filter((i) => i.state === 'ok').reduce((n, i) => n + i.file.size, 0) > MAX_MESSAGE_BYTES; }
  get count() { return this.items.length; }

  clear() {
    for (const i of this.items) if (i.url) URL.revokeObjectURL(i.url);
    this.items = [];
    this.render();
  }

  flash(text) {
    this.message = text;
    this.render();
    this.message = '';
  }

  render() {
    const images = this.takesImages();
    this.tray.replaceChildren(...this.items.map((item) => {
      const image = isImage(item.file.type);
      if (image && !item.url) item.url = URL.createObjectURL(item.file);
      const note = item.state === 'err' ? item.note
        : item.state === 'up' ? 'uploading…'
        : image && images === false ? 'this agent takes no images: it will not be sent'
        : image && images === null ? 'sent if the agent takes images'
        : sizeText(item.file.size);
      const remove = h('button', { type: 'button', class: 'remove', 'aria-label': `Remove ${item.file.name}`, onclick: () => {
        this.items = this.items.filter((x) => x !== item);
        if (item.url) URL.revokeObjectURL(item.url);
        this.render();
      } }, '×');
      return h('div', { class: `chip ${item.state}`, dataset: { state: item.state } },
        image ? h('img', { src: item.url, alt: '' }) : icon('file'),
        h('span', { class: 'chip-text' }, h('span', { class: 'chip-name' }, item.file.name || 'pasted'), h('span', { class: 'chip-note' }, note)),
        remove);
    }), this.message ? h('div', { class: 'chip-msg', role: 'status' }, this.message) : '');
    this.tray.hidden = !this.items.length && !this.message;
    this.onChange?.();
  }
}

/** Thumbnails (images) and chips (other files) of a sent message. */
export function sentFiles(list, urlOf) {
  return h('div', { class: 'sent-files' }, list.map((a) => {
    const url = urlOf(a.id);
    return isImage(a.mime)
      ? h('a', { href: url, target: '_blank', rel: 'noopener', class: 'thumb', title: `${a.name} (${sizeText(a.size)})` }, h('img', { src: url, alt: a.name, loading: 'lazy' }))
      : h('a', { href: url, class: 'chip ok', download: a.name }, icon('file'),
        h('span', { class: 'chip-text' }, h('span', { class: 'chip-name' }, a.name), h('span', { class: 'chip-note' }, sizeText(a.size))));
  }));
}
