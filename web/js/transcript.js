// The conversation view: session events in, DOM out. Events are applied in
// seq order, each at most once (a reconnect's replay can overlap what was
// already shown), in batches of at most a few milliseconds per frame, so a
// replay of thousands of events never freezes the page.
import { h } from './dom.js';
import { renderMarkdown } from './markdown.js';
import { appendAnsi } from './ansi.js';
import { ToolCard } from './tools.js';
import { Approval } from './approvals.js';
import { AcpToolCard, blockText, planView } from './acp.js';

const BUDGET_MS = 10;

export class Transcript {
  constructor(root, scroller, { send, onState, onStick }) {
    this.root = root;
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
      this.onStick?.(this.stuck);
    }, { passive: true });
    new ResizeObserver(() => { if (this.stuck) this.toBottom(); }).observe(root);
    this.reset();
  }

  reset() {
    this.root.replaceChildren();
    this.pending = [];
    this.head = 0;
    this.stuck = true;
    this.lastSeq = 0;
    this.cards = new Map(); // tool_use id → ToolCard
    this.approvals = new Map(); // requestId → Approval
    this.streams = new Map(); // message id → [{kind, text, el, final}]
    this.streamId = new Map(); // parent id ('' for top) → message id being streamed
    this.dirty = new Set();
    this.acpBlock = null; // the ACP message or thought block being streamed
    this.plan = null; // the ACP plan card of this turn
    this.plain = null; // the <pre> of template-agent output of this run
    this.stderr = null;
    // `ended` counts finished turns (tests and the title wait on it).
    this.state = { running: null, waiting: null, mode: 'default', slash: [], queue: new Map(), ended: 0 };
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
    this.dirty = new Set(later);
    this.emitState();
    if (stick) this.toBottom(); else this.onStick?.(false);
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
    (container || this.root).append(item);
    return item;
  }

  container(parentId) {
    const card = parentId && this.cards.get(parentId);
    return card?.children || this.root;
  }

  notice(text, cls = '') { this.add(h('div', { class: 'notice ' + cls }, text)); }

  apply(ev) {
    switch (ev.type) {
      case 'user_message': {
        this.plain = null; this.stderr = null;
        if (ev.queueId !== undefined) { this.state.queue.delete(ev.queueId); }
        this.add(h('div', { class: 'item user', dataset: { run: ev.runId } }, h('div', { class: 'bubble' }, ev.content)));
        break;
      }
      case 'queued': this.state.queue.set(ev.queueId, ev.content); break;
      case 'queue_cancelled': this.state.queue.delete(ev.queueId); break;
      case 'exec_start': this.state.running = ev.runId; break;
      // --max-agents: the turn waits for a free agent; `ahead` turns first.
      case 'waiting_for_agent': if (ev.runId === this.state.running) this.state.waiting = ev.ahead; break;
      case 'exec_end': this.endRun(ev); break;
      case 'claudejson': {
        this.state.waiting = null;
        let m;
        try { m = JSON.parse(ev.content); } catch { m = null; }
        if (m && typeof m === 'object') this.claude(m); else this.content(ev.content);
        break;
      }
      case 'content': this.state.waiting = null; this.content(ev.content); break;
      case 'stderr': this.stderrLine(ev.content); break;
      case 'info': this.notice(ev.message); break;
      case 'error': this.notice(ev.message, 'err'); break;
      case 'permission_request': {
        const a = new Approval(ev, this.send);
        this.approvals.set(ev.requestId, a);
        this.add(a.el);
        break;
      }
      case 'permission_resolved': case 'permission_void': this.approvals.get(ev.requestId)?.resolve(ev); break;
      case 'permission_mode': this.state.mode = ev.mode; break;
      case 'agent_update': this.state.waiting = null; this.acp(ev.update || {}); break;
      default: break; // agent_session and types added later: nothing to show
    }
  }

  endRun(ev) {
    this.state.running = null;
    this.state.waiting = null;
    this.state.ended++;
    for (const card of this.cards.values()) card.abandon();
    for (const blocks of this.streams.values()) for (const b of blocks) if (!b.final) { b.final = true; this.dirty.add(b); }
    this.streamId.clear();
    if (this.acpBlock && !this.acpBlock.final) { this.acpBlock.final = true; this.dirty.add(this.acpBlock); }
    this.acpBlock = null;
    this.plan = null;
    if (this.state.usage) {
      const u = this.state.usage;
      const parts = [];
      if (typeof u.used === 'number') parts.push(`${u.used.toLocaleString()}${typeof u.size === 'number' ? ' / ' + u.size.toLocaleString() : ''} tokens of context`);
      if (u.cost && typeof u.cost.amount === 'number') parts.push(`${u.cost.currency === 'USD' ? '$' : ''}${u.cost.amount.toFixed(4)}${u.cost.currency && u.cost.currency !== 'USD' ? ' ' + u.cost.currency : ''}`);
      if (parts.length) this.add(h('div', { class: 'footer', 'aria-label': 'Turn summary' }, parts.map((p) => h('span', null, p))));
      this.state.usage = null;
    }
    if (ev.status === 'stopped') this.notice('Stopped.', 'stopped');
    else if (ev.status === 'error') this.notice(`The turn failed${ev.message ? ': ' + ev.message : ''}.`, 'err');
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

  // ---- Agent Client Protocol updates ---------------------------------------

  acp(u) {
    switch (u.sessionUpdate) {
      case 'agent_message_chunk': case 'agent_thought_chunk': {
        const kind = u.sessionUpdate === 'agent_message_chunk' ? 'text' : 'thinking';
        const text = blockText(u.content);
        if (!text) return; // e.g. Qwen's empty chunk carrying usage in _meta
        let b = this.acpBlock;
        if (!b || b.kind !== kind || b.final) {
          if (b && !b.final) { b.final = true; this.dirty.add(b); }
          b = this.acpBlock = this.newBlock(kind, this.root);
        }
        b.text += text;
        this.dirty.add(b);
        break;
      }
      case 'user_message_chunk': {
        const text = blockText(u.content);
        if (text) this.add(h('div', { class: 'item user' }, h('div', { class: 'bubble' }, text)));
        break;
      }
      case 'tool_call': case 'tool_call_update': {
        const id = String(u.toolCallId ?? '');
        const card = this.cards.get(id);
        if (card) { card.update(u); break; }
        // A write swe-swe served for the agent: shown only when the agent's
        // own card did not already show that file's diff.
        if (u._meta?.['swe-swe']?.servedBy && this.shownDiff(u.content?.[0]?.path)) break;
        // Text after a tool call starts a new block below it.
        if (this.acpBlock && !this.acpBlock.final) { this.acpBlock.final = true; this.dirty.add(this.acpBlock); }
        const c = new AcpToolCard(u);
        this.cards.set(id, c);
        this.add(c.el);
        break;
      }
      case 'plan': {
        const view = planView(u.entries);
        if (this.plan) this.plan.replaceChildren(h('div', { class: 'label' }, 'Plan'), view);
        else this.plan = this.add(h('div', { class: 'card plan', 'aria-label': 'Plan' }, h('div', { class: 'label' }, 'Plan'), view));
        break;
      }
      case 'available_commands_update':
        if (Array.isArray(u.availableCommands)) this.state.slash = u.availableCommands.map((c) => String(c?.name ?? '')).filter(Boolean);
        break;
      case 'current_mode_update': if (u.currentModeId) this.state.agentMode = String(u.currentModeId); break;
      case 'usage_update': this.state.usage = u; break;
      default: break; // session_info_update, config options…: nothing to show yet
    }
  }

  /** A card of this turn already shows a diff of `path` (absolute or relative). */
  shownDiff(path) {
    if (typeof path !== 'string') return false;
    for (const card of this.cards.values()) {
      for (const c of card.call?.content || []) {
        const p = c?.type === 'diff' && typeof c.path === 'string' ? c.path : null;
        if (p && (p === path || path.endsWith('/' + p.replace(/^\.\//, '')))) return true;
      }
    }
    return false;
  }

  // ---- Claude Code stream-json -------------------------------------------

  claude(m) {
    switch (m.type) {
      case 'system':
        if (m.subtype === 'init') {
          if (Array.isArray(m.slash_commands)) this.state.slash = m.slash_commands.map(String);
        }
        break;
      case 'stream_event': this.streamEvent(m.event || {}, m.parent_tool_use_id || ''); break;
      case 'assistant': this.assistant(m); break;
      case 'user': this.userLine(m); break;
      case 'result': this.result(m); break;
      default: break; // control_request/response, rate limits…: nothing to show
    }
  }

  streamEvent(e, parent) {
    if (e.type === 'message_start') {
      const id = e.message?.id;
      if (id) { this.streamId.set(parent, id); if (!this.streams.has(id)) this.streams.set(id, []); }
      return;
    }
    const id = this.streamId.get(parent);
    const blocks = id && this.streams.get(id);
    if (!blocks) return;
    if (e.type === 'content_block_start') {
      const kind = e.content_block?.type;
      if (kind !== 'text' && kind !== 'thinking') return;
      const b = this.newBlock(kind, this.container(parent));
      b.index = e.index;
      b.text = e.content_block.text || e.content_block.thinking || '';
      blocks.push(b);
      this.dirty.add(b);
    } else if (e.type === 'content_block_delta') {
      const b = blocks.find((x) => x.index === e.index && !x.final);
      const d = e.delta || {};
      if (!b) return;
      b.text += d.type === 'text_delta' ? d.text || '' : d.type === 'thinking_delta' ? d.thinking || '' : '';
      this.dirty.add(b);
    }
  }

  newBlock(kind, container) {
    const b = { kind, text: '', final: false, index: -1 };
    if (kind === 'thinking') {
      b.body = h('div', { class: 'md' });
      b.el = this.add(h('details', { class: 'thinking' }, h('summary', null, 'Thinking'), b.body), container);
    } else {
      b.body = h('div', { class: 'md' });
      b.el = this.add(h('div', { class: 'assistant' }, b.body), container);
    }
    return b;
  }

  renderBlock(b) {
    const md = renderMarkdown(b.text);
    if (!b.final) md.classList.add('cursor');
    b.body.replaceWith(md);
    b.body = md;
  }

  assistant(m) {
    const msg = m.message || {};
    const container = this.container(m.parent_tool_use_id);
    const streamed = (msg.id && this.streams.get(msg.id)) || [];
    for (const block of Array.isArray(msg.content) ? msg.content : []) {
      if (block.type === 'text' || block.type === 'thinking') {
        const text = block.type === 'text' ? block.text : block.thinking;
        // The full message repeats what was streamed: finish that block.
        let b = streamed.find((x) => x.kind === block.type && !x.final);
        if (!b) b = this.newBlock(block.type, container);
        b.text = String(text ?? '');
        b.final = true;
        this.dirty.add(b);
      } else if (block.type === 'tool_use') {
        if (this.cards.has(block.id)) continue;
        const card = new ToolCard(block);
        this.cards.set(block.id, card);
        this.add(card.el, container);
      } else if (block.type === 'redacted_thinking') {
        continue;
      }
    }
  }

  userLine(m) {
    const content = m.message?.content;
    if (!Array.isArray(content)) return;
    for (const block of content) {
      if (block.type === 'tool_result') {
        this.cards.get(block.tool_use_id)?.setResult(block.content, block.is_error === true);
      }
      // "[Request interrupted by user]" is not shown: the turn's end says "Stopped.".
    }
  }

  result(m) {
    const parts = [];
    if (typeof m.duration_ms === 'number') parts.push(`${(m.duration_ms / 1000).toFixed(1)} s`);
    if (typeof m.total_cost_usd === 'number') parts.push(`$${m.total_cost_usd.toFixed(4)}`);
    const u = m.usage || {};
    const tokensIn = (u.input_tokens || 0) + (u.cache_read_input_tokens || 0) + (u.cache_creation_input_tokens || 0);
    if (tokensIn || u.output_tokens) parts.push(`${tokensIn.toLocaleString()} in / ${(u.output_tokens || 0).toLocaleString()} out tokens`);
    if (typeof m.num_turns === 'number') parts.push(`${m.num_turns} turn${m.num_turns === 1 ? '' : 's'}`);
    if (parts.length) this.add(h('div', { class: 'footer', 'aria-label': 'Turn summary' }, parts.map((p) => h('span', null, p))));
  }
}
