// Wires the page together: connection, transcript, composer, sessions,
// header state and theme. The URL (?s=ID) names the session.
import { h, clear, icon, kTokens, money, refreshTimes } from './dom.js';
import { Connection } from './conn.js';
import { Transcript } from './transcript.js';
import { Composer } from './composer.js';
import { Sessions } from './sessions.js';
import { CLAUDE_BUILTINS, mergeCommands } from './commands.js';
import { TranscriptSearch } from './search.js';
import { Attention } from './attention.js';
import { AttachTray } from './attach.js';

const $ = (id) => document.getElementById(id);
const THEME_KEY = 'swe-swe-theme';

function applyTheme(t) {
  document.documentElement.dataset.theme = ['light', 'dark'].includes(t) ? t : 'system';
}
applyTheme(localStorage.getItem(THEME_KEY));

function start() {
  const ui = {
    conn: $('conn'), running: $('running'), runningText: $('running-text'), stop: $('stop'),
    mode: $('mode'), title: $('title'), agent: $('agent'), queue: $('queue'), empty: $('empty'), jump: $('jump'),
    sidebar: $('sidebar'), scrim: $('scrim'),
  };
  let session = new URLSearchParams(location.search).get('s');
  let state = null;
  let runStarted = 0;
  const attention = new Attention({ toggle: $('notify') });
  // Events up to this seq were replayed, not live: they notify nobody.
  let replayedUntil = 0;
  let wasRunning = false, wasNeeding = false;
  // Assigned below; callbacks may fire while they are being built.
  let transcript = null, sessions = null, composer = null, conn = null;

  const wsUrl = new URL('ws', document.baseURI);
  wsUrl.protocol = wsUrl.protocol === 'https:' ? 'wss:' : 'ws:';

  // A session deleted elsewhere takes no more messages: what was typed stays.
  let deleted = false;
  const send = (frame) => (deleted && frame.type === 'message' ? false : conn?.send(frame) ?? false);
  function showDeleted() {
    deleted = true;
    const banner = h('div', { class: 'notice err deleted', role: 'alert' },
      'This session was deleted (in another tab or window). ',
      h('button', { type: 'button', class: 'primary', onclick: () => openSession(null) }, 'Start a new session'),
      ' — what you typed is kept.');
    transcript.root.append(h('div', { class: 'item' }, banner));
    transcript.toBottom();
  }
  transcript = new Transcript($('transcript'), $('scroller'), {
    send,
    attachmentUrl: (id) => new URL(`api/sessions/${encodeURIComponent(session)}/attachments/${encodeURIComponent(id)}`, document.baseURI).href,
    onState: (s) => { state = s; renderState(); },
    onStick: (stuck) => { ui.jump.hidden = stuck; },
    onEdit: (text) => { const input = $('input'); input.value = text; input.focus(); input.dispatchEvent(new Event('input')); },
  });

  conn = new Connection({
    url: wsUrl.href,
    lastSeq: () => transcript.lastSeq,
    onState: (s, detail) => {
      ui.conn.dataset.state = s;
      ui.conn.textContent = s === 'open' ? 'Connected' : s === 'connecting' ? 'Connecting…'
        : `Reconnecting in ${Math.ceil((detail?.retryIn ?? 0) / 1000)} s…`;
      ui.conn.title = s === 'closed' ? `Disconnected (code ${detail?.code}); retrying automatically` : '';
      $('send').disabled = s !== 'open';
    },
    onFrame: (f) => onFrame(f),
  });

  function onFrame(f) {
    switch (f.type) {
      case 'session':
        if (f.session !== session || f.lastSeq < transcript.lastSeq) {
          // Another session, or the server's log is not the one we showed
          // (deleted, or a different data dir): start the view over.
          const other = f.session !== session;
          session = f.session;
          transcript.reset();
          if (!other) { conn.hello(); return; }
        }
        setUrl(session);
        replayedUntil = f.lastSeq;
        takesImages = f.takesImages ?? null;
        tray.render();
        transcript.state.mode = f.permissionMode || transcript.state.mode;
        // The session's cost so far, even when its turns are not replayed.
        if (typeof f.costUsd === 'number' && transcript.state.cost === null) transcript.state.cost = f.costUsd;
        // Permission modes are Claude Code's; other agents keep their own.
        agentName = f.agent || '';
        ui.agent.hidden = !agentName;
        if (state) renderState(); // now, not at the next rendered event
        composer?.flush(); // a message typed while offline goes now
        ui.mode.hidden = !!f.agent && f.agent !== 'claude';
        sessions.refresh();
        return;
      case 'fuzzy_search_results': composer.results(f); return;
      // Notices for every tab: other sessions' state, and the list itself.
      case 'session_status':
        // Another session waits for an answer: worth a notification too.
        if (f.needsYou && f.session !== session && !sessions.live.get(f.session)?.needsYou) {
          attention.notify('Another session needs your answer', sessions.title(f.session) || 'Untitled session', `needs-${f.session}`);
        }
        sessions.setStatus(f.session, f.running, f.needsYou);
        return;
      case 'sessions_changed': sessions.refresh(); return;
      case 'session_deleted':
        if (f.session === session) showDeleted();
        sessions.refresh();
        return;
      case 'file_index_status': case 'pong': case 'stop_ack': return;
      default:
        if (f.seq === undefined && f.type === 'error') {
          transcript.push({ type: 'error', message: f.message });
          return;
        }
        transcript.push(f);
        if (f.type === 'exec_end' || f.type === 'user_message') sessions.refresh();
    }
  }

  let agentName = '';

  function setUrl(id) {
    const url = new URL(location.href);
    if (url.searchParams.get('s') === id) return;
    url.searchParams.set('s', id);
    history.replaceState(null, '', url);
  }

  function renderState() {
    const s = state;
    if (!s || !transcript || !sessions) return;
    const running = s.running !== null;
    if (running && !runStarted) runStarted = Date.now();
    if (!running) runStarted = 0;
    const needsYou = s.pending.size > 0;
    ui.running.hidden = !running;
    ui.running.classList.toggle('needs-you', needsYou);
    // Screen readers wait for the end of a streamed turn instead of reading every token.
    transcript.root.setAttribute('aria-busy', running ? 'true' : 'false');
    ui.stop.hidden = !running;
    showElapsed();
    if (ui.mode.value !== s.mode) ui.mode.value = s.mode;
    document.body.classList.toggle('bypass', s.mode === 'bypassPermissions');
    // An ACP agent's own mode (`current_mode_update`) shows beside its name.
    ui.agent.textContent = agentName + (s.agentMode ? ` · ${s.agentMode}` : '');
    ui.empty.hidden = transcript.root.childElementCount > 0 || transcript.backlog > 0;
    ui.title.textContent = sessions.title(session) || 'swe-swe';
    // The conversation as Markdown or as its stored events.
    const stored = Boolean(session && sessions.title(session) !== undefined);
    $('export').hidden = !stored;
    if (stored) {
      for (const f of ['md', 'json']) $(`export-${f}`).href = new URL(`api/sessions/${encodeURIComponent(session)}/export?format=${f}`, document.baseURI).href;
    }
    // Waiting for the user is not "working": its own mark everywhere.
    document.title = (needsYou ? '❗ ' : running ? '● ' : '') + (sessions.title(session) || 'swe-swe');
    attention.badge(needsYou ? 'needs' : running ? 'running' : 'idle');
    if (transcript.lastSeq > replayedUntil) {
      const name = sessions.title(session) || 'swe-swe';
      if (needsYou && !wasNeeding) attention.notify('The agent needs your answer', name, `needs-${session}`);
      else if (wasRunning && !running) attention.notify('The turn finished', name, `done-${session}`);
    }
    wasRunning = running;
    wasNeeding = needsYou;
    if (session) sessions.setStatus(session, running, needsYou);
    renderQueue(s.queue);
    renderUsage(s);
  }

  // "$0.0123 · 45k / 200k context" in the header.
  function renderUsage(s) {
    const parts = [];
    if (typeof s.cost === 'number') parts.push(money(s.cost, s.currency));
    if (s.context?.used) parts.push(`${kTokens(s.context.used)}${s.context.size ? ' / ' + kTokens(s.context.size) : ''} context`);
    const text = parts.join(' · ');
    const el = $('usage');
    if (el.textContent !== text) el.textContent = text;
    el.hidden = !text;
  }

  // "Running · 12 s": how long the current turn has been going.
  function showElapsed() {
    const secs = runStarted ? Math.floor((Date.now() - runStarted) / 1000) : 0;
    const waiting = state?.waiting;
    ui.runningText.textContent = state?.pending?.size ? 'Needs you: answer below'
      : !runStarted ? ''
      : waiting != null ? `Waiting for a free agent${waiting ? ` · ${waiting} ahead` : ''}`
      : secs < 1 ? 'Running' : `Running · ${secs} s`;
    ui.running.title = ui.runningText.textContent; // whole, where it is cut
  }
  setInterval(() => { if (runStarted) showElapsed(); }, 1000);
  // "5 min ago" stays true.
  setInterval(() => refreshTimes(transcript.root), 30000);

  function renderQueue(queue) {
    const key = [...queue.keys()].join(',');
    if (ui.queue.dataset.key === key) return;
    ui.queue.dataset.key = key;
    clear(ui.queue);
    ui.queue.hidden = queue.size === 0;
    for (const [id, text] of queue) {
      ui.queue.append(h('div', { class: 'queued', dataset: { queue: id } },
        h('span', { class: 'label' }, 'Queued'),
        h('span', { class: 'text' }, text),
        h('button', { type: 'button', 'aria-label': `Cancel queued message: ${text}`, onclick: () => send({ type: 'cancel_queued', queueId: id }) }, 'Cancel')));
    }
  }

  // After Stop (button or Esc) the focus is back in the message box.
  const stop = () => { const sent = send({ type: 'stop', runId: state?.running ?? undefined }); $('input').focus(); return sent; };
  ui.stop.addEventListener('click', stop);
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && state && state.running !== null && !e.defaultPrevented && document.activeElement?.id !== 'input') stop();
  });

  let takesImages = null;
  const tray = new AttachTray({
    tray: $('tray'), button: $('attach'), picker: $('attach-input'), drop: $('main'),
    session: () => session, takesImages: () => takesImages,
  });
  composer = new Composer({
    tray,
    form: $('composer'), input: $('input'), picker: $('picker'), send, stop,
    // Claude Code's built-ins from the start, the agent's own merged in.
    slash: () => mergeCommands(agentName === 'claude' ? CLAUDE_BUILTINS : [], state?.slash || []),
    running: () => Boolean(state && state.running !== null),
    connected: () => Boolean(conn?.isOpen),
    onSent: () => attention.ask(),
    onWaiting: (on) => { $('offline').hidden = !on; },
  });
  $('retry').addEventListener('click', () => conn.retryNow());
  // A phone's box is narrow: a placeholder that fits on one line.
  const narrow = matchMedia('(max-width: 760px)');
  const placeholder = () => { $('input').placeholder = narrow.matches ? 'Message the agent' : 'Message the agent (@ files, / commands)'; };
  narrow.addEventListener('change', placeholder);
  placeholder();

  ui.mode.addEventListener('change', () => {
    const bypass = ui.mode.value === 'bypassPermissions';
    // Bypass runs every tool without asking: only on purpose.
    if (bypass && !confirm('Bypass permissions: the agent will run every command and edit every file without asking you first. Turn it on for this session?')) {
      ui.mode.value = state.mode;
      return;
    }
    if (!send({ type: 'set_permission_mode', mode: ui.mode.value })) ui.mode.value = state.mode;
  });

  $('find').replaceChildren(icon('search'));
  const search = new TranscriptSearch({
    bar: $('searchbar'), input: $('search'), count: $('search-count'), prev: $('search-prev'),
    next: $('search-next'), close: $('search-close'), open: $('find'), root: transcript.root,
  });

  sessions = new Sessions({
    list: $('session-list'), claudeList: $('claude-list'), claudeHead: $('claude-head'), filter: $('session-filter'),
    current: () => session,
    onRendered: () => renderState(),
    onOpen: (id) => { openSession(id); closeSidebar(); },
  });

  function openSession(id, agent = null) {
    if (id && id === session) return;
    deleted = false;
    session = id;
    transcript.reset();
    tray.clear(); // uploaded to the session being left
    const url = new URL(location.href);
    if (id) url.searchParams.set('s', id); else url.searchParams.delete('s');
    history.pushState(null, '', url);
    conn.switchTo(id, agent);
    $('input').focus();
  }
  window.addEventListener('popstate', () => {
    const id = new URLSearchParams(location.search).get('s');
    if (id !== session) { session = id; transcript.reset(); tray.clear(); conn.switchTo(id); }
  });

  $('new-session').addEventListener('click', () => { openSession(null, $('new-agent').value || null); closeSidebar(); });
  // More than one agent on this server: a new session may pick its own.
  fetch(new URL('api/agents', document.baseURI)).then((r) => (r.ok ? r.json() : null)).then((list) => {
    const agents = Array.isArray(list?.agents) ? list.agents : [];
    if (agents.length < 2) return;
    $('new-agent').replaceChildren(...agents.map((a) => h('option', { value: a.name, selected: a.name === list.default }, a.name)));
    $('new-agent-label').hidden = false;
  }).catch(() => {});
  const closeSidebar = () => { ui.sidebar.classList.remove('open'); ui.scrim.hidden = true; };
  $('open-sidebar').addEventListener('click', () => { ui.sidebar.classList.add('open'); ui.scrim.hidden = false; sessions.refresh(); $('new-session').focus(); });
  $('close-sidebar').addEventListener('click', closeSidebar);
  ui.scrim.addEventListener('click', closeSidebar);
  ui.jump.addEventListener('click', () => transcript.toBottom());

  const theme = $('theme');
  theme.value = document.documentElement.dataset.theme;
  theme.addEventListener('change', () => { localStorage.setItem(THEME_KEY, theme.value); applyTheme(theme.value); });

  window.addEventListener('online', () => conn.retryNow());
  // For tests and debugging: the live objects.
  window.sweSwe = { conn, transcript, sessions, composer, search };
  sessions.refresh();
  conn.start(session);
  $('input').focus();
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
