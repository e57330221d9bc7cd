// Tool calls as cards: a one-line summary (tool, what it acts on, state) and
// a body with the input in its most readable form and the result.
import { h, truncate } from './dom.js';
import { diffView } from './diff.js';
import { renderMarkdown } from './markdown.js';

const str = (v) => (typeof v === 'string' ? v : v === undefined ? '' : JSON.stringify(v));

/** One line saying what the call does. */
export function summary(name, input) {
  const i = input || {};
  switch (name) {
    case 'Bash': return '$ ' + str(i.command);
    case 'Read': return str(i.file_path) + (i.offset ? ` (from line ${i.offset})` : '');
    case 'Write': case 'Edit': case 'MultiEdit': case 'NotebookEdit': return str(i.file_path ?? i.notebook_path);
    case 'Grep': return `${str(i.pattern)}${i.path ? ' in ' + str(i.path) : ''}${i.glob ? ' (' + str(i.glob) + ')' : ''}`;
    case 'Glob': return str(i.pattern) + (i.path ? ' in ' + str(i.path) : '');
    case 'WebFetch': return str(i.url);
    case 'WebSearch': return str(i.query);
    case 'Task': case 'Agent': return str(i.description || i.subagent_type);
    case 'TodoWrite': {
      const t = Array.isArray(i.todos) ? i.todos : [];
      return `${t.filter((x) => x.status === 'completed').length}/${t.length} done`;
    }
    case 'AskUserQuestion': return (i.questions || []).map((q) => q.question).join(' · ');
    case 'ExitPlanMode': return 'plan ready for review';
    default: return truncate(JSON.stringify(i), 160);
  }
}

export function todoList(todos) {
  const ul = h('ul', { class: 'todo' });
  for (const t of Array.isArray(todos) ? todos : []) {
    const mark = t.status === 'completed' ? '[x]' : t.status === 'in_progress' ? '[~]' : '[ ]';
    ul.append(h('li', { class: t.status },
      h('span', { class: 'box', 'aria-hidden': 'true' }, mark),
      h('span', null, t.status === 'in_progress' && t.activeForm ? t.activeForm : t.content),
      h('span', { class: 'visually-hidden' }, ` (${String(t.status || 'pending').replace('_', ' ')})`)));
  }
  return ul;
}

const label = (t) => h('div', { class: 'label' }, t);
const pre = (text, cls) => h('pre', { class: cls || 'wrap' }, text);

/** The input of a call, as a person wants to read it (also used by approvals). */
export function inputView(name, input) {
  const i = input || {};
  switch (name) {
    case 'Bash': return h('div', null, i.description ? h('div', { class: 'label' }, i.description) : null, pre('$ ' + str(i.command)));
    case 'Edit': return diffView(str(i.file_path), str(i.old_string), str(i.new_string));
    case 'MultiEdit': return h('div', null, (i.edits || []).map((e, k) => diffView(`${str(i.file_path)} — edit ${k + 1}`, str(e.old_string), str(e.new_string))));
    case 'Write': return diffView(str(i.file_path) + ' (new content)', '', str(i.content).replace(/\n$/, ''));
    case 'TodoWrite': return todoList(i.todos);
    case 'Task': case 'Agent': return h('div', null, i.subagent_type ? label(i.subagent_type) : null, renderMarkdown(str(i.prompt)));
    case 'WebFetch': return h('div', null, label('URL'), pre(str(i.url)), i.prompt ? [label('Prompt'), pre(str(i.prompt))] : null);
    case 'Read': case 'Glob': case 'Grep': case 'WebSearch': return null; // the summary says it all
    default: return pre(JSON.stringify(i, null, 2), 'wrap');
  }
}

/** Text of a tool_result `content` (a string, or blocks of text/images). */
export function resultText(content) {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return content == null ? '' : JSON.stringify(content, null, 2);
  return content.map((b) => (b?.type === 'text' ? b.text : b?.type === 'image' ? '[image]' : JSON.stringify(b))).join('\n');
}

const TAIL_LINES = 8;

/** Output shown by its last lines, with a button for the rest. */
export function tailView(text) {
  const lines = text.replace(/\n$/, '').split('\n');
  if (lines.length <= TAIL_LINES) return pre(text, 'output');
  const p = pre(lines.slice(-TAIL_LINES).join('\n'), 'output tail');
  const more = h('button', { type: 'button', class: 'more' }, `Show all ${lines.length} lines`);
  more.addEventListener('click', () => { p.textContent = text; p.classList.remove('tail'); more.remove(); });
  return h('div', null, more, p);
}

/** An approval about this call goes into its card, instead of repeating
 * the call above or below it; the card says it waits for the answer. */
export function attachApproval(card, approval) {
  card.approval = approval;
  card.el.open = true;
  card.el.classList.add('asking');
  card.el.append(approval.el);
  showAsking(card);
}

/** A card's state while its approval is open (cards call it on update). */
export function showAsking(card) {
  if (!card.approval || card.approval.done) return false;
  card.state.className = 'state needs';
  card.state.textContent = 'waiting for approval';
  return true;
}

/** Its approval was answered: the card goes on with the call. */
export function answered(card, ev) {
  card.el.classList.remove('asking');
  if (!card.state.classList.contains('needs')) return;
  const denied = ev.type === 'permission_resolved' && ev.decision === 'deny';
  card.state.className = 'state ' + (denied ? 'err' : 'wait');
  card.state.textContent = denied ? 'denied' : ev.type === 'permission_void' ? 'no answer needed' : 'running…';
}

/** A card for one tool_use block. `children` holds a subagent's own calls. */
export class ToolCard {
  constructor(block) {
    this.name = block.name || 'tool';
    this.input = block.input || {};
    const open = ['Edit', 'MultiEdit', 'Write', 'TodoWrite', 'Task', 'Agent'].includes(this.name);
    this.state = h('span', { class: 'state wait' }, 'running…');
    this.body = h('div', { class: 'body' });
    const view = inputView(this.name, this.input);
    if (view) this.body.append(view);
    this.el = h('details', { class: 'card tool', open, dataset: { tool: this.name, id: block.id || '' } },
      h('summary', null,
        h('span', { class: 'tool-name' }, this.name),
        h('span', { class: 'tool-sum' }, summary(this.name, this.input)),
        this.state),
      this.body);
    if (this.name === 'Task' || this.name === 'Agent') {
      this.children = h('div', { class: 'children', 'aria-label': 'Subagent steps' });
      this.body.append(this.children);
    }
  }

  setResult(content, isError) {
    const text = resultText(content);
    this.state.className = 'state ' + (isError ? 'err' : 'ok');
    this.state.textContent = isError ? 'failed' : 'done';
    if (isError) { this.el.classList.add('error'); this.el.open = true; }
    if (this.name === 'TodoWrite' && !isError) return;
    if (!text) return;
    const shown = text.length > 100_000 ? text.slice(0, 100_000) + `\n… ${text.length - 100_000} more characters` : text;
    const sub = this.name === 'Task' || this.name === 'Agent';
    // A command's output is what one looks for: its last lines show
    // without a click, all of them on request.
    const view = sub ? renderMarkdown(shown) : this.name === 'Bash' && !isError ? tailView(shown) : pre(shown, isError ? 'wrap' : undefined);
    if (this.name === 'Bash') this.el.open = true;
    this.body.append(label(isError ? 'Error' : sub ? 'Result' : 'Output'), view);
  }

  /** The turn ended without a result for this call. */
  abandon() {
    if (this.state.classList.contains('wait')) { this.state.className = 'state'; this.state.textContent = 'no result'; }
  }
}
