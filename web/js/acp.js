// Agent Client Protocol updates (`agent_update` events) as the same cards
// Claude's stream gets: message and thought chunks stream into markdown
// blocks, tool calls become cards that later updates complete, plans a todo
// list, and commands, mode and usage go to the page's state.
import { h, truncate } from './dom.js';
import { diffView } from './diff.js';
import { todoList } from './tools.js';

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
    this.state.className = 'state ' + cls;
    this.state.textContent = text;
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
