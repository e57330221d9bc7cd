// Agent Client Protocol updates (`agent_update` events) as the same cards
// Claude's stream gets: message and thought chunks stream into markdown
// blocks, tool calls become cards that later updates complete, plans a todo
// list, commands and mode go to the page's state, usage to the footer.
import { h, money, truncate } from './dom.js';
import { diffView } from './diff.js';
import { showAsking, todoList } from './tools.js';

const str = (v) => (typeof v === 'string' ? v : v === undefined || v === null ? '' : JSON.stringify(v));
const label = (t) => h('div', { class: 'label' }, t);
const pre = (text) => h('pre', { class: 'wrap' }, text);

/** Text of one ACP content block (text, image, resource, resource_link). */
export function blockText(c) {
  if (!c || typeof c !== 'object') return '';
  switch (c.type) {
    case 'text': return str(c.text);
    case 'image': return '[image]';
    case 'audio': return '[audio]';
    case 'resource_link': return `[${str(c.title || c.name || c.uri)}](${str(c.uri)})`;
    case 'resource': return str(c.resource?.text ?? c.resource?.uri);
    default: return '';
  }
}

/** Views of a tool call's `content`: diffs, text, terminals. */
export function contentViews(content) {
  const out = [];
  for (const item of Array.isArray(content) ? content : []) {
    if (item?.type === 'diff') out.push(diffView(str(item.path) + (item.oldText == null ? ' (new file)' : ''), str(item.oldText), str(item.newText)));
    else if (item?.type === 'content') {
      const text = blockText(item.content);
      if (text) out.push(pre(text.length > 100_000 ? text.slice(0, 100_000) + `\n… ${text.length - 100_000} more characters` : text));
    } else if (item?.type === 'terminal') out.push(label(`terminal ${str(item.terminalId)}`));
  }
  return out;
}

/** One line for a tool call: its command, path or input. */
export function callSummary(call) {
  const i = call.rawInput && typeof call.rawInput === 'object' ? call.rawInput : {};
  if (call.kind === 'execute' && i.command) return '$ ' + str(i.command);
  const path = call.locations?.[0]?.path || i.path || i.file_path || i.filePath;
  if (path) return str(path);
  return call.rawInput === undefined ? '' : truncate(JSON.stringify(call.rawInput), 160);
}

const STATES = { pending: ['wait', 'pending…'], in_progress: ['wait', 'running…'], completed: ['ok', 'done'], failed: ['err', 'failed'] };

/** A card for one ACP tool call, completed by its `tool_call_update`s. */
export class AcpToolCard {
  constructor(call) {
    this.call = {};
    this.state = h('span', { class: 'state wait' }, 'pending…');
    this.name = h('span', { class: 'tool-name' });
    this.sum = h('span', { class: 'tool-sum' });
    this.body = h('div', { class: 'body' });
    this.el = h('details', { class: 'card tool', dataset: { id: str(call.toolCallId), acp: '' } },
      h('summary', null, this.name, this.sum, this.state), this.body);
    this.update(call);
  }

  /** Fields present in `u` replace the card's; others stay (ACP semantics). */
  update(u) {
    for (const [k, v] of Object.entries(u)) if (v !== undefined && k !== 'sessionUpdate') this.call[k] = v;
    const c = this.call;
    this.el.dataset.tool = str(c.kind || 'other');
    this.name.textContent = str(c.title || c.kind || 'tool');
    this.sum.textContent = c.title && c.kind === 'execute' && c.rawInput?.command && c.title !== c.rawInput.command ? callSummary(c) : (c.title ? '' : callSummary(c));
    const [cls, text] = STATES[c.status] || STATES.pending;
    if (!(c.status === 'pending' || c.status === undefined) || !showAsking(this)) {
      this.state.className = 'state ' + cls;
      this.state.textContent = text;
    }
    const views = contentViews(c.content);
    if (c.kind === 'execute' && c.rawInput?.command) views.unshift(pre('$ ' + str(c.rawInput.command)));
    if (!views.length && c.rawOutput !== undefined && c.status === 'completed') views.push(pre(JSON.stringify(c.rawOutput, null, 2)));
    if (c.locations?.length && c.kind !== 'edit') views.push(h('div', { class: 'label' }, c.locations.map((l) => str(l.path) + (l.line ? `:${l.line}` : '')).join(', ')));
    this.body.replaceChildren(...views);
    if (c.status === 'failed') { this.el.classList.add('error'); this.el.open = true; }
    if (c.kind === 'edit' && (c.content || []).some((x) => x?.type === 'diff')) this.el.open = true;
  }

  /** The turn ended and this call never finished. */
  abandon() {
    if (this.state.classList.contains('wait')) { this.state.className = 'state'; this.state.textContent = 'no result'; }
  }
}

/** A plan update: the whole list, replaced each time. */
export function planView(entries) {
  return todoList((Array.isArray(entries) ? entries : []).map((e) => ({ content: str(e.content), status: e.status })));
}

/** The transcript's renderer of ACP updates. */
export class AcpView {
  /** `t`: the Transcript (its blocks, cards and footer). */
  constructor(t) {
    this.t = t;
    this.block = null; // the message or thought block being streamed
    this.plan = null; // the plan card of this turn
    this.usage = null; // the last usage_update of this turn
    // The session's cost before this turn; unknown when the view did not
    // start at the session's first event (see Transcript.push).
    this.costBefore = 0;
  }

  /** Ends the block being streamed: what follows starts a new one. */
  closeBlock() {
    if (this.block && !this.block.final) { this.block.final = true; this.t.dirty.add(this.block); }
  }

  update(u) {
    const t = this.t;
    switch (u.sessionUpdate) {
      case 'agent_message_chunk': case 'agent_thought_chunk': {
        const kind = u.sessionUpdate === 'agent_message_chunk' ? 'text' : 'thinking';
        const text = blockText(u.content);
        if (!text) return; // e.g. Qwen's empty chunk carrying usage in _meta
        if (!this.block || this.block.kind !== kind || this.block.final) {
          this.closeBlock();
          this.block = t.newBlock(kind, t.root);
        }
        this.block.text += text;
        t.dirty.add(this.block);
        break;
      }
      case 'user_message_chunk': {
        const text = blockText(u.content);
        if (text) t.add(h('div', { class: 'item user' }, h('div', { class: 'bubble' }, text)));
        break;
      }
      case 'tool_call': case 'tool_call_update': {
        const id = String(u.toolCallId ?? '');
        const card = t.cards.get(id);
        if (card) { card.update(u); break; }
        // A write swe-swe served for the agent: shown only when the agent's
        // own card did not already show that file's diff.
        if (u._meta?.['swe-swe']?.servedBy && this.shownDiff(u.content?.[0]?.path)) break;
        this.closeBlock();
        const c = new AcpToolCard(u);
        t.cards.set(id, c);
        t.add(c.el);
        break;
      }
      case 'plan': {
        const view = [h('div', { class: 'label' }, 'Plan'), planView(u.entries)];
        if (this.plan) this.plan.replaceChildren(...view);
        else this.plan = t.add(h('div', { class: 'card plan', 'aria-label': 'Plan' }, view));
        break;
      }
      case 'available_commands_update':
        if (Array.isArray(u.availableCommands)) {
          t.state.slash = u.availableCommands.filter((c) => c?.name).map((c) => ({ name: String(c.name), description: String(c.description || '') }));
        }
        break;
      case 'current_mode_update': if (u.currentModeId) t.state.agentMode = String(u.currentModeId); break;
      case 'usage_update': {
        this.usage = u;
        // Session-wide figures: the header shows them.
        if (typeof u.used === 'number') t.state.context = { used: u.used, size: typeof u.size === 'number' ? u.size : null };
        if (u.cost && typeof u.cost.amount === 'number') { t.state.cost = u.cost.amount; t.state.currency = String(u.cost.currency || 'USD'); }
        break;
      }
      default: break; // session_info_update, config options…: nothing to show yet
    }
  }

  /** The turn ended: the footer says what its context and cost came to. */
  endRun() {
    this.closeBlock();
    this.block = null;
    this.plan = null;
    const u = this.usage;
    this.usage = null;
    if (!u) return;
    const parts = [];
    if (typeof u.used === 'number') parts.push(`${u.used.toLocaleString()}${typeof u.size === 'number' ? ' / ' + u.size.toLocaleString() : ''} tokens of context`);
    // ACP reports the session's cost so far: the turn's own is the growth
    // since the last report before it (unknown for the first one seen).
    const amount = u.cost && typeof u.cost.amount === 'number' ? u.cost.amount : null;
    if (amount !== null && this.costBefore !== undefined) parts.push(money(amount - this.costBefore, String(u.cost.currency || 'USD')));
    if (amount !== null) this.costBefore = amount;
    this.t.footerAdd(parts);
  }

  /** A card of this turn already shows a diff of `path` (absolute or relative). */
  shownDiff(path) {
    if (typeof path !== 'string') return false;
    for (const card of this.t.cards.values()) {
      for (const c of card.call?.content || []) {
        const p = c?.type === 'diff' && typeof c.path === 'string' ? c.path : null;
        if (p && (p === path || path.endsWith('/' + p.replace(/^\.\//, '')))) return true;
      }
    }
    return false;
  }
}
