// Claude Code's stream-json lines (`claudejson` events) rendered into the
// transcript: token deltas stream into markdown blocks (the full message then
// replaces what was streamed), tool_use blocks become cards that their
// tool_result completes, subagent calls nest under their Task, and the
// result line is the turn's footer.
import { ToolCard } from './tools.js';

export class ClaudeView {
  /** `t`: the Transcript (its blocks, cards, containers and footer). */
  constructor(t) {
    this.t = t;
    this.streams = new Map(); // message id → [{kind, text, el, final}]
    this.streamId = new Map(); // parent id ('' for top) → message id being streamed
  }

  line(m) {
    switch (m.type) {
      case 'system':
        if (m.subtype === 'init' && Array.isArray(m.slash_commands)) this.t.state.slash = m.slash_commands.map((n) => ({ name: String(n) }));
        break;
      case 'stream_event': this.streamEvent(m.event || {}, m.parent_tool_use_id || ''); break;
      case 'assistant': this.assistant(m); break;
      case 'user': this.userLine(m); break;
      case 'result': this.result(m); break;
      default: break; // control_request/response, rate limits…: nothing to show
    }
  }

  /** The turn ended: blocks still streaming are final. */
  endRun() {
    for (const blocks of this.streams.values()) for (const b of blocks) if (!b.final) { b.final = true; this.t.dirty.add(b); }
    this.streamId.clear();
  }

  streamEvent(e, parent) {
    const t = this.t;
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
      const b = t.newBlock(kind, t.container(parent));
      b.index = e.index;
      b.text = e.content_block.text || e.content_block.thinking || '';
      blocks.push(b);
      t.dirty.add(b);
    } else if (e.type === 'content_block_delta') {
      const b = blocks.find((x) => x.index === e.index && !x.final);
      const d = e.delta || {};
      if (!b) return;
      b.text += d.type === 'text_delta' ? d.text || '' : d.type === 'thinking_delta' ? d.thinking || '' : '';
      t.dirty.add(b);
    }
  }

  assistant(m) {
    const t = this.t;
    const msg = m.message || {};
    const container = t.container(m.parent_tool_use_id);
    const streamed = (msg.id && this.streams.get(msg.id)) || [];
    for (const block of Array.isArray(msg.content) ? msg.content : []) {
      if (block.type === 'text' || block.type === 'thinking') {
        const text = block.type === 'text' ? block.text : block.thinking;
        // The full message repeats what was streamed: finish that block.
        let b = streamed.find((x) => x.kind === block.type && !x.final);
        // Claude Code's placeholder for a turn without text (`/clear`): not shown.
        if (block.type === 'text' && text === '(no content)') {
          if (b) { b.final = true; b.el.remove(); }
          continue;
        }
        if (!b) b = t.newBlock(block.type, container);
        b.text = String(text ?? '');
        b.final = true;
        t.dirty.add(b);
      } else if (block.type === 'tool_use') {
        if (t.cards.has(block.id)) continue;
        const card = new ToolCard(block);
        t.cards.set(block.id, card);
        t.add(card.el, container);
      }
    }
  }

  userLine(m) {
    const content = m.message?.content;
    if (!Array.isArray(content)) return;
    for (const block of content) {
      if (block.type === 'tool_result') {
        this.t.cards.get(block.tool_use_id)?.setResult(block.content, block.is_error === true);
      }
      // "[Request interrupted by user]" is not shown: the turn's end says "Stopped.".
    }
  }

  // Cost and tokens follow in the `usage` event: `total_cost_usd` here is
  // what the whole process cost so far, not this turn.
  result(m) {
    const parts = [];
    if (typeof m.duration_ms === 'number') parts.push(`${(m.duration_ms / 1000).toFixed(1)} s`);
    if (typeof m.num_turns === 'number') parts.push(`${m.num_turns} turn${m.num_turns === 1 ? '' : 's'}`);
    this.t.footerAdd(parts);
  }
}
