// Getting the user back when the agent needs them: the favicon carries a
// badge (orange: needs you; blue: working), and — while the tab is hidden —
// a browser notification says that an approval waits or a turn finished.
// Permission is asked on the first message sent (a user gesture, as browsers
// require); the sidebar's switch turns notifications off.

const KEY = 'swe-swe-notify';
const BASE = '<rect width="32" height="32" rx="7" fill="#2563eb"/><path d="M8 11l6 5-6 5M16 22h8" stroke="#fff" stroke-width="2.6" fill="none" stroke-linecap="round" stroke-linejoin="round"/>';
const BADGE = { needs: '#f97316', running: '#22c55e' };

export class Attention {
  constructor({ toggle }) {
    this.icon = document.querySelector('link[rel="icon"]');
    this.plainIcon = this.icon?.href;
    this.toggle = toggle;
    this.shownBadge = 'idle';
    if (toggle) {
      toggle.checked = this.enabled();
      toggle.addEventListener('change', () => {
        localStorage.setItem(KEY, toggle.checked ? 'on' : 'off');
        if (toggle.checked) this.ask();
      });
    }
  }

  enabled() { return localStorage.getItem(KEY) !== 'off' && 'Notification' in window; }

  /** Called on a user gesture: asks for permission once, if not turned off. */
  ask() {
    if (this.enabled() && Notification.permission === 'default') Notification.requestPermission().catch(() => {});
  }

  /** A notification, only while the tab is hidden (visible: the page says it). */
  notify(title, body, tag) {
    if (!document.hidden || !this.enabled() || Notification.permission !== 'granted') return;
    try {
      const n = new Notification(title, { body, tag, icon: this.plainIcon });
      n.onclick = () => { window.focus(); n.close(); };
    } catch (e) { console.warn('notification', e); }
  }

  /** 'idle' | 'running' | 'needs': the favicon's badge. */
  badge(state) {
    if (!this.icon || state === this.shownBadge) return;
    this.shownBadge = state;
    const color = BADGE[state];
    this.icon.dataset.badge = state;
    this.icon.href = color
      ? 'data:image/svg+xml,' + encodeURIComponent(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">${BASE}<circle cx="25" cy="7" r="7" fill="${color}" stroke="#fff" stroke-width="2"/></svg>`)
      : this.plainIcon;
  }
}
