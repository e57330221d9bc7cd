// The conversation view: session events in, DOM out. Events are applied in
// seq order, each at most once (a reconnect's replay can overlap what was
// already shown), in batches of at most a few milliseconds per frame, so a
// replay of thousands of events never freezes the page.
import { actionButton, copyButton, h, money, timeAgo } from './dom.js';
import { renderMarkdown } from './markdown.js';
import { appendAnsi } from './ansi.js';
import { Approval } from './approvals.js';
import { sentFiles } from './attach.js';
import { answered, attachApproval } from './tools.js';
import { AcpView } from './acp.js';
import { ClaudeView } from './claude.js';

const BUDGET_MS = 10;

export class Transcript {
  constructor(root, scroller, { send, onState, onStick, onEdit, attachmentUrl }) {
    this.root = root;
    this.attachmentUrl = attachmentUrl; // (id) → the URL of a sent file
    this.onEdit = onEdit; // (text) → put a sent message back in the box
    this.scroller = scroller;
    this.send = send;
    this.onState = onState;
    this.onStick = onStick;
    // Events not rendered yet: pending[head..]. An index instead of shift():
    // a replay of 100,000 events must not cost a copy per event.
    this.pending = [];
    this.head = 0;
    this.scheduled = false;
    // Follow the output while the reader is at the bottom. Only the reader's
    // scrolling changes this: items that grow as they render (they are laid
    // out lazily) must not unstick the view.
    this.stuck = true;
    scroller.addEventListener('scroll', () => {
      if (this.programmatic) { this.programmatic = false; return; }
      this.stuck = this.atBottom();
      // Back at the bottom: the pill goes. Scrolling up alone shows nothing:
      // the pill is for output that arrives out of view (see `flush`).
      if (this.stuck) this.onStick?.(true);
    }, { passive: true });
    new ResizeObserver(() => { if (this.stuck) this.toBottom(); }).observe(root);
    this.reset();
  }

  reset() {
    this.root.replaceChildren();
    this.starting = null; // the "Starting the agent…" item of the running turn
    // The error notice of the running turn, { message, el }: its end says
    // the same again, reworded into it (see 'exec_end').
    this.lastError = null;
    this.pending = [];
    this.head = 0;
    this.stuck = true;
    this.lastSeq = 0;
    this.cards = new Map(); // tool call id → ToolCard / AcpToolCard
    this.approvals = new Map(); // requestId → Approval
    this.dirty = new Set();
    // One renderer per agent format, into the same blocks and cards.
    this.claude = new ClaudeView(this);
    this.acp = new AcpView(this);
    this.plain = null; // the <pre> of template-agent output of this run
    this.stderr = null;
    // `ended` counts finished turns (tests and the title wait on it).
    // `pending`: permission requests waiting for the user.
    this.runFooter = null; // the footer of the turn running or last ended
    // `cost`: the session's total so far; `context`: {used, size} tokens.
    this.state = { running: null, waiting: null, mode: 'default', slash: [], queue: new Map(), pending: new Set(), ended: 0, cost: null, currency: 'USD', context: null };
    this.emitState();
  }

  /** Events received and not rendered yet. */
  get backlog() { return this.pending.length - this.head; }

  emitState() { this.onState?.(this.state); }

  /** Queue one session event (or reply) for rendering. */
  push(ev) {
    if (ev.seq !== undefined) {
      // Seq order, no duplicates: a replay that overlaps is dropped here.
      if (ev.seq <= this.lastSeq) return;
      // Shown from the middle: sums that need the start are unknown.
      if (this.lastSeq === 0 && ev.seq > 1) this.acp.costBefore = undefined;
      this.lastSeq = ev.seq;
    }
    this.pending.push(ev);
    this.schedule();
  }

  schedule() {
    if (this.scheduled) return;
    this.scheduled = true;
    const run = () => { if (this.scheduled) { this.scheduled = false; this.flush(); } };
    requestAnimationFrame(run);
    setTimeout(run, 50); // hidden tabs get no animation frames
  }

  flush() {
    const stick = this.stuck;
    const start = performance.now();
    const items = this.root.childElementCount;
    let n = 0;
    while (this.backlog && (n < 20 || performance.now() - start < BUDGET_MS)) {
      const ev = this.pending[this.head++];
      try { this.apply(ev); } catch (e) { console.error('render failed for', ev, e); }
      n++;
    }
    // A streaming block is rendered whole on each flush; a long one at most
    // every text-length / 1000 ms (≤ 1 s), so a big reply costs linear time
    // per render and not one render per frame.
    const now = performance.now();
    const later = [];
    for (const block of this.dirty) {
      if (!block.final && block.text.length > 32768 && now - (block.renderedAt || 0) < Math.min(1000, block.text.length / 1000)) {
        later.push(block);
        continue;
      }
      this.renderBlock(block);
      block.renderedAt = performance.now();
    }
    // Something new to read: an item came, or a block grew.
    const grew = this.root.childElementCount !== items || this.dirty.size > later.length;
    this.dirty = new Set(later);
    this.emitState();
    if (stick) this.toBottom(); else if (grew) this.onStick?.(false); // "↓ New output"
    if (this.backlog || later.length) {
      this.schedule();
    } else {
      this.pending = [];
      this.head = 0;
      this.root.dispatchEvent(new CustomEvent('idle'));
    }
  }

  atBottom() {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 120;
  }

  toBottom() {
    const s = this.scroller;
    const target = s.scrollHeight - s.clientHeight;
    if (Math.abs(s.scrollTop - target) > 1) { this.programmatic = true; s.scrollTop = target; }
    this.stuck = true;
    this.onStick?.(true);
  }

  add(el, container) {
    const item = el.classList.contains('item') ? el : h('div', { class: 'item' }, el);
    // The first thing the agent shows replaces "Starting the agent…".
    if (this.starting && item !== this.starting) { this.starting.remove(); this.starting = null; }
    (container || this.root).append(item);
    return item;
  }

  container(parentId) {
    const card = parentId && this.cards.get(parentId);
    return card?.children || this.root;
  }

  /** Adds a notice line; returns the notice (not its item wrapper). */
  notice(text, cls = '') {
    const el = h('div', { class: 'notice ' + cls }, text);
    this.add(el);
    return el;
  }

  apply(ev) {
    switch (ev.type) {
      case 'user_message': {
        this.plain = null; this.stderr = null;
        if (ev.queueId !== undefined) { this.state.queue.delete(ev.queueId); }
        // Copy, edit (back into the box) and send again.
        const actions = h('div', { class: 'msg-actions' }, copyButton('Copy message', ev.content),
          actionButton('edit', 'Edit and send again', 'Edit', () => this.onEdit?.(ev.content)),
          actionButton('retry', 'Send again', 'Retry', () => this.send({ type: 'message', content: ev.content })));
        this.add(h('div', { class: 'item user', dataset: { run: ev.runId } }, actions,
          h('div', { class: 'bubble' }, ev.content,
            Array.isArray(ev.attachments) && ev.attachments.length && this.attachmentUrl ? sentFiles(ev.attachments, this.attachmentUrl) : null,
            ev.at ? h('div', { class: 'stamp' }, timeAgo(ev.at)) : null)));
        // `/clear` starts the agent's context afresh: a divider says so when the turn ends.
        this.clearing = String(ev.content).trim() === '/clear' ? ev.runId : null;
        break;
      }
      case 'queued': this.state.queue.set(ev.queueId, ev.content); break;
      case 'queue_cancelled': this.state.queue.delete(ev.queueId); break;
      case 'exec_start':
        this.lastError = null;
        this.state.running = ev.runId;
        this.runFooter = null;
        // An agent's cold start takes a second or more: say so where the reply will come.
        this.starting = null;
        this.starting = this.add(h('div', { class: 'notice starting', role: 'status' }, 'Starting the agent…'));
        break;
      // --max-agents: the turn waits for a free agent; `ahead` turns first.
      case 'waiting_for_agent': if (ev.runId === this.state.running) this.state.waiting = ev.ahead; break;
      case 'exec_end': this.endRun(ev); break;
      case 'claudejson': {
        this.state.waiting = null;
        let m;
        try { m = JSON.parse(ev.content); } catch { m = null; }
        if (m && typeof m === 'object') this.claude.line(m); else this.content(ev.content);
        break;
      }
      case 'content': this.state.waiting = null; this.content(ev.content); break;
      case 'stderr': this.stderrLine(ev.content); break;
      case 'info': this.notice(ev.message); break;
      // A failed turn's reason comes as an error and again with its end:
      // kept to be reworded then, not shown twice.
      case 'error': this.lastError = { message: ev.message, el: this.notice(ev.message, 'err') }; break;
      case 'permission_request': {
        // A tool approval goes into the card of its call when that is shown.
        const id = ev.toolUseId ?? ev.toolCall?.toolCallId;
        const card = !['AskUserQuestion', 'ExitPlanMode'].includes(ev.sender) && id != null ? this.cards.get(String(id)) : null;
        const a = new Approval(ev, this.send, { inCard: Boolean(card) });
        this.approvals.set(ev.requestId, a);
        this.state.pending.add(ev.requestId);
        if (card) { a.card = card; attachApproval(card, a); } else this.add(a.el);
        break;
      }
      case 'permission_resolved': case 'permission_void': {
        const a = this.approvals.get(ev.requestId);
        a?.resolve(ev);
        if (a?.card) answered(a.card, ev);
        this.state.pending.delete(ev.requestId);
        break;
      }
      case 'permission_mode': this.state.mode = ev.mode; break;
      case 'usage': this.usage(ev); break;
      case 'agent_update': this.state.waiting = null; this.acp.update(ev.update || {}); break;
      default: break; // agent_session and types added later: nothing to show
    }
  }

  endRun(ev) {
    this.starting?.remove();
    this.starting = null;
    this.state.running = null;
    this.state.waiting = null;
    this.state.pending.clear();
    this.state.ended++;
    for (const card of this.cards.values()) card.abandon();
    this.claude.endRun();
    this.acp.endRun();
    if (ev.status === 'success' && this.clearing === ev.runId) {
      this.add(h('div', { class: 'divider', role: 'separator', 'aria-label': 'Context cleared' }, h('span', null, 'Context cleared: the agent starts afresh from here')));
    }
    this.clearing = null;
    if (ev.status === 'stopped') this.notice('Stopped.', 'stopped');
    // swe-swe itself cut the turn short (shut down or killed): not a user's stop.
    else if (ev.status === 'interrupted') this.notice(`${(ev.message || 'interrupted').replace(/^interrupted/, 'Interrupted')}.`, 'stopped interrupted');
    else if (ev.status === 'error') {
      // A message that ends its own sentence gets no second full stop.
      const said = `The turn failed${ev.message ? ': ' + ev.message : ''}`.replace(/([^.!?])$/, '$1.');
      if (ev.message && this.lastError?.message === ev.message) this.lastError.el.textContent = said;
      else this.notice(said, 'err');
    }
    this.lastError = null;
    // When the reply was done, in the turn's footer.
    if (ev.at) this.footerAdd([timeAgo(ev.at)]);
  }

  /** Claude Code: the turn's own cost and tokens (the server works them out
   * from the CLI's running totals) to its footer; the session's to the header. */
  usage(ev) {
    const parts = [];
    if (typeof ev.costUsd === 'number') parts.push(money(ev.costUsd));
    if (ev.inputTokens || ev.outputTokens) parts.push(`${(ev.inputTokens || 0).toLocaleString()} in / ${(ev.outputTokens || 0).toLocaleString()} out tokens`);
    this.footerAdd(parts);
    if (typeof ev.sessionCostUsd === 'number') { this.state.cost = ev.sessionCostUsd; this.state.currency = 'USD'; }
    if (ev.contextTokens) this.state.context = { used: ev.contextTokens, size: ev.contextWindow || null };
  }

  content(text) {
    if (!this.plain) {
      this.plain = { pre: h('pre', { class: 'wrap' }), state: {} };
      this.add(h('div', { class: 'ansi' }, this.plain.pre));
    }
    this.plain.state = appendAnsi(this.plain.pre, text + '\n', this.plain.state);
  }

  stderrLine(text) {
    if (!this.stderr) {
      const pre = h('pre', { class: 'wrap' });
      const summary = h('summary', null, 'stderr');
      this.stderr = { pre, summary, n: 0 };
      this.add(h('details', { class: 'stderr' }, summary, pre));
    }
    this.stderr.n++;
    this.stderr.summary.textContent = `stderr (${this.stderr.n} line${this.stderr.n > 1 ? 's' : ''})`;
    this.stderr.pre.append(text + '\n');
  }

  /** A turn's summary line (duration, cost, tokens…). */
  footer(parts) {
    if (!parts.length) return;
    this.runFooter = h('div', { class: 'footer', 'aria-label': 'Turn summary' }, parts.map((p) => h('span', null, p)));
    this.add(this.runFooter);
  }

  /** Adds to this turn's footer (made when there is none yet). */
  footerAdd(parts) {
    if (!parts.length) return;
    if (!this.runFooter) return this.footer(parts);
    this.runFooter.append(...parts.map((p) => h('span', null, p)));
  }

  newBlock(kind, container) {
    const b = { kind, text: '', final: false, index: -1 };
    if (kind === 'thinking') {
      b.body = h('div', { class: 'md' });
      b.el = this.add(h('details', { class: 'thinking' }, h('summary', null, 'Thinking'), b.body), container);
    } else {
      b.body = h('div', { class: 'md' });
      // The text, then its actions: read in that order, and on a phone
      // (where the actions are a row in the flow) shown under the text.
      b.el = this.add(h('div', { class: 'assistant' }, b.body, h('div', { class: 'msg-actions' }, copyButton('Copy message', () => b.text))), container);
    }
    return b;
  }

  renderBlock(b) {
    const md = renderMarkdown(b.text);
    if (!b.final) md.classList.add('cursor');
    b.body.replaceWith(md);
    b.body = md;
  }
}
