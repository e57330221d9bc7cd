// Inline approval cards for `permission_request` events: tool permission
// (allow once / always / deny with a reason), AskUserQuestion (choose
// answers) and ExitPlanMode (approve the plan or keep planning).
import { h } from './dom.js';
import { inputView, summary } from './tools.js';
import { renderMarkdown } from './markdown.js';
import { callSummary, contentViews } from './acp.js';

export class Approval {
  /** `req`: the permission_request event; `send(frame)` answers it.
   * `inCard`: shown inside the call's own card, which already shows what
   * the call does, so only the question and the answers are shown. */
  constructor(req, send, { inCard = false } = {}) {
    this.inCard = inCard;
    this.done = false;
    this.req = req;
    let input = {};
    try { input = JSON.parse(req.toolInput || '{}') ?? {}; } catch { input = { raw: req.toolInput }; }
    const tool = req.sender || 'tool';
    this.verdict = h('div', { class: 'verdict', role: 'status' });
    // After an answer the focus goes back to the message box, not <body>.
    const back = () => document.getElementById('input')?.focus();
    const answer = (decision, extra = {}) => { send({ type: 'permission_response', requestId: req.requestId, decision, ...extra }); back(); };
    let body;
    if (Array.isArray(req.options)) body = this.acpPermission(req, tool, send);
    else if (tool === 'AskUserQuestion') body = this.questions(input, answer);
    else if (tool === 'ExitPlanMode') body = this.plan(input, answer);
    else body = this.permission(tool, input, answer);
    this.subject = `${tool} ${Array.isArray(req.options) ? callSummary(req.toolCall || {}) : summary(tool, input)}`.trim();
    this.el = h('section', { class: 'approval' + (inCard ? ' in-card' : ''), 'aria-label': `${tool} needs your answer`, dataset: { request: req.requestId, tool } }, body, this.verdict);
  }

  permission(tool, input, answer) {
    const reason = h('input', { type: 'text', class: 'reason', placeholder: 'Reason (optional, told to the agent)', 'aria-label': 'Reason for denying' });
    return [
      h('h3', null, `Allow ${tool}?`),
      this.inCard ? null : h('div', { class: 'tool-sum' }, summary(tool, input)),
      this.inCard ? null : inputView(tool, input),
      h('div', { class: 'buttons' },
        h('button', { type: 'button', class: 'primary', dataset: { decision: 'allow' }, onclick: () => answer('allow') }, 'Allow once'),
        h('button', { type: 'button', dataset: { decision: 'allow_always' }, onclick: () => answer('allow_always') }, `Always allow ${tool}`),
        reason,
        h('button', { type: 'button', class: 'danger', dataset: { decision: 'deny' }, onclick: () => answer('deny', reason.value.trim() ? { reason: reason.value.trim() } : {}) }, 'Deny')),
    ];
  }

  /** An ACP agent's request: its tool call, and one button per option. */
  acpPermission(req, tool, send) {
    const call = req.toolCall || {};
    const decisions = { allow_once: 'allow', allow_always: 'allow_always', reject_once: 'deny', reject_always: 'deny' };
    const pick = (o) => { send({ type: 'permission_response', requestId: req.requestId, optionId: o.optionId }); document.getElementById('input')?.focus(); };
    return [
      h('h3', null, `Allow ${tool}?`),
      this.inCard ? null : h('div', { class: 'tool-sum' }, callSummary(call)),
      this.inCard ? null : contentViews(call.content),
      h('div', { class: 'buttons' }, req.options.map((o) => {
        const decision = decisions[o.kind] || 'deny';
        const cls = o.kind === 'allow_once' ? 'primary' : decision === 'deny' ? 'danger' : undefined;
        return h('button', { type: 'button', class: cls, dataset: { decision, option: String(o.optionId) }, onclick: () => pick(o) }, String(o.name || o.optionId));
      })),
    ];
  }

  questions(input, answer) {
    const qs = Array.isArray(input.questions) ? input.questions : [];
    const form = h('form', { class: 'question-form' }, h('h3', null, 'The agent asks'));
    const pickers = qs.map((q, n) => {
      const type = q.multiSelect ? 'checkbox' : 'radio';
      const name = `q-${this.req.requestId}-${n}`;
      const other = h('input', { type: 'text', placeholder: 'Other…', 'aria-label': `Other answer to: ${q.question}` });
      const fs = h('fieldset', null, h('legend', null, q.header ? `${q.header}: ${q.question}` : q.question),
        (q.options || []).map((o, k) => h('label', { class: 'opt' },
          h('input', { type, name, value: o.label, checked: k === 0 && !q.multiSelect }),
          h('span', null, o.label, o.description ? h('small', null, ' — ' + o.description) : null))),
        h('label', { class: 'opt' }, other));
      form.append(fs);
      return () => {
        const chosen = [...fs.querySelectorAll('input:checked')].map((x) => x.value);
        if (other.value.trim()) chosen.push(other.value.trim());
        return [q.question, chosen.join(', ')];
      };
    });
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      answer('allow', { answers: Object.fromEntries(pickers.map((p) => p())) });
    });
    return [form, h('div', { class: 'buttons' },
      h('button', { type: 'button', class: 'primary', dataset: { decision: 'allow' }, onclick: () => form.requestSubmit() }, 'Answer'),
      h('button', { type: 'button', dataset: { decision: 'deny' }, onclick: () => answer('deny', { reason: 'The user declined to answer.' }) }, 'Skip'))];
  }

  plan(input, answer) {
    const feedback = h('input', { type: 'text', class: 'reason', placeholder: 'What should change? (optional)', 'aria-label': 'Feedback on the plan' });
    return [
      h('h3', null, 'Plan ready for review'),
      renderMarkdown(typeof input.plan === 'string' ? input.plan : JSON.stringify(input, null, 2)),
      h('div', { class: 'buttons' },
        h('button', { type: 'button', class: 'primary', dataset: { decision: 'allow' }, onclick: () => answer('allow') }, 'Approve plan'),
        feedback,
        h('button', { type: 'button', dataset: { decision: 'deny' }, onclick: () => answer('deny', { reason: feedback.value.trim() || 'Keep planning.' }) }, 'Keep planning')),
    ];
  }

  /** The prompt was answered (here or in another tab) or voided. */
  resolve(ev) {
    this.done = true;
    // Answered: one line (what was asked, when alone, and the answer).
    this.el.classList.add('done');
    const about = this.inCard || this.req.sender === 'AskUserQuestion' || this.req.sender === 'ExitPlanMode' ? '' : `${this.subject}: `;
    if (ev.type === 'permission_void') { this.verdict.textContent = `${about}No longer needed: ${ev.reason}`; return; }
    const words = { allow: 'Allowed once', allow_always: 'Always allowed', deny: 'Denied', skip_all: 'All tools allowed' };
    let text = words[ev.decision] || ev.decision;
    if (this.req.sender === 'ExitPlanMode') text = ev.decision === 'deny' ? 'Kept planning' : 'Plan approved';
    if (ev.answers) text = 'Answered: ' + Object.entries(ev.answers).map(([q, a]) => `${q} → ${a}`).join('; ');
    if (ev.reason) text += ` — “${ev.reason}”`;
    this.verdict.textContent = about + text;
  }
}
