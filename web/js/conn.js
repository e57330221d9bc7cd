// One WebSocket to the server, reconnected with backoff on any close
// (network drop, server restart, 4001 "too slow", 1001 shutdown). On every
// (re)connect it joins its session again with the last seq it has, so the
// server replays exactly what is missing.

const MIN_DELAY = 250, MAX_DELAY = 10_000;

export class Connection {
  /**
   * `lastSeq()` says what the view already has; `onFrame(frame)` gets every
   * frame of the current session; `onState(state, detail)` gets
   * 'connecting' | 'open' | 'closed'.
   */
  constructor({ url, lastSeq, onFrame, onState }) {
    this.url = url;
    this.lastSeq = lastSeq;
    this.onFrame = onFrame;
    this.onState = onState;
    this.session = null;
    // The agent a new session should run (null: the server's default);
    // the server ignores it once the session has events.
    this.agent = null;
    this.delay = MIN_DELAY;
    this.ws = null;
    this.timer = null;
    // Frames of a session we are leaving are dropped until the server
    // answers our hello with the new session.
    this.joining = false;
    this.opens = 0; // sockets opened so far (the first, then reconnects)
  }

  start(session) {
    this.session = session || null;
    this.open();
  }

  open() {
    clearTimeout(this.timer);
    this.onState('connecting');
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => {
      this.opens++;
      this.delay = MIN_DELAY;
      this.onState('open');
      // Notices about every session keep the session list live.
      this.sendRaw({ type: 'watch_sessions' });
      this.hello();
    };
    ws.onmessage = (m) => {
      if (ws !== this.ws) return;
      let f;
      try { f = JSON.parse(m.data); } catch { return; }
      if (f.type === 'session') {
        this.joining = false;
        this.session = f.session;
      } else if (this.joining && f.seq !== undefined) {
        return;
      }
      this.onFrame(f);
    };
    ws.onclose = (e) => {
      if (ws !== this.ws) return;
      this.ws = null;
      const wait = Math.round(this.delay * (0.75 + Math.random() * 0.5));
      this.delay = Math.min(this.delay * 2, MAX_DELAY);
      this.onState('closed', { code: e.code, retryIn: wait });
      this.timer = setTimeout(() => this.open(), wait);
    };
  }

  hello() {
    this.joining = true;
    this.sendRaw({ type: 'hello', session: this.session || undefined, lastSeq: this.lastSeq(), agent: this.agent || undefined });
  }

  /** Join another session on the same socket (the view was reset). */
  switchTo(session, agent = null) {
    this.session = session || null;
    this.agent = agent;
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.hello();
  }

  get isOpen() { return this.ws && this.ws.readyState === WebSocket.OPEN; }

  /**
   * False when not connected: the caller keeps what the user typed. While
   * joining, a message still goes: the server reads it after our hello on
   * the same socket, so it lands in the session being joined. Other frames
   * (stop, answers) name things of the session being left: they wait.
   */
  send(frame) {
    if (!this.isOpen || (this.joining && frame.type !== 'message')) return false;
    return this.sendRaw(frame);
  }

  sendRaw(frame) {
    if (!this.isOpen) return false;
    // A JS string may hold half an emoji (a lone surrogate); JSON.stringify
    // escapes it as \udXXX, which no UTF-8 JSON parser accepts: the server
    // would refuse the whole message. Replace the half with U+FFFD instead.
    this.ws.send(JSON.stringify(frame, (_, v) => (typeof v === 'string' ? v.toWellFormed?.() ?? v : v)));
    return true;
  }

  /** Reconnect now (after the user asks, or when the network is back). */
  retryNow() {
    if (!this.ws) this.open();
  }
}
