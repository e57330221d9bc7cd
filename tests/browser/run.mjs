// Browser scenarios against a real swe-swe with the fake agent.
// Usage (tests/browser.rs does this): node tests/browser/run.mjs SCENARIO
// with SWE_URL, PW_DIR, CHROMIUM, WORKDIR and SHOTS in the environment.
import fs from 'node:fs';
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
import path from 'node:path';
import { chromium, control, launch, open, connected, noErrors, send, ended, running, sessionOf, text, count, shot, assert, URL_, WORKDIR, WAIT } from './lib.mjs';

/** A w×h PNG of one colour (for thumbnails that must really decode). */
function solidPng(w, h, [r, g, b]) {
  const zlib = require('node:zlib');
  const crcTable = Array.from({ length: 256 }, (_, n) => { let c = n; for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; return c >>> 0; });
  const crc = (buf) => { let c = 0xffffffff; for (const x of buf) c = crcTable[(c ^ x) & 0xff] ^ (c >>> 8); return (c ^ 0xffffffff) >>> 0; };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const c = Buffer.alloc(4); c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4); ihdr[8] = 8; ihdr[9] = 2;
  const row = Buffer.concat([Buffer.from([0]), Buffer.from(Array.from({ length: w }, () => [r, g, b]).flat())]);
  const raw = Buffer.concat(Array.from({ length: h }, () => row));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

const scenarios = {
  /**
   * A page on another site, and a DNS-rebinding page: Chromium resolves
   * `127.0.0.1.nip.io` to 127.0.0.1 (as an attacker's DNS would), so a page
   * served under that name by swe-swe's own port is "same-origin" with it.
   * Before: the API answered any Host and that name passed the WebSocket
   * check, so such a page created sessions and drove the agent. Now every
   * attempt is refused and nothing is created.
   */
  async hostile() {
    const http = await import('node:http');
    const swe = new URL(URL_);
    const evilName = '127.0.0.1.nip.io';
    const browser = await chromium().launch({
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
        '--disable-dev-shm-usage', `--host-resolver-rules=MAP ${evilName} 127.0.0.1, MAP evil.test 127.0.0.1`],
    });
    // The other site: a page on another port that attacks swe-swe.
    const site = http.createServer((_, res) => { res.setHeader('content-type', 'text/html'); res.end('<!doctype html><title>evil</title>'); });
    await new Promise((r) => site.listen(0, '127.0.0.1', r));
    const attack = async (page, base) => page.evaluate(async (base) => {
      const out = {};
      const post = await fetch(base + 'api/sessions', { method: 'POST', body: '{}', headers: { 'content-type': 'text/plain' }, mode: 'no-cors' }).catch((e) => e);
      out.post = post.type === 'opaque' ? 'opaque' : post.status ?? String(post);
      const list = await fetch(base + 'api/sessions').then((r) => r.status, (e) => 'failed: ' + e);
      out.list = list;
      out.ws = await new Promise((resolve) => {
        const ws = new WebSocket(base.replace(/^http/, 'ws') + 'ws');
        ws.onopen = () => { ws.send(JSON.stringify({ type: 'hello', session: 'pwned' })); ws.send(JSON.stringify({ type: 'message', content: 'hello' })); resolve('open'); };
        ws.onerror = () => resolve('refused');
      });
      return out;
    }, base);
    try {
      const ctx = await browser.newContext();
      const page = await ctx.newPage();
      await page.goto(`http://evil.test:${site.address().port}/`);
      const cross = await attack(page, `${swe.origin}/`);
      assert.equal(cross.ws, 'refused', `cross-site WebSocket: ${JSON.stringify(cross)}`);
      // Rebinding: the page is served by swe-swe's own port under the name.
      const rebound = `http://${evilName}:${swe.port}/`;
      const resp = await page.goto(rebound);
      assert.equal(resp.status(), 403, 'the page itself is refused under a foreign Host');
      const rb = await attack(page, rebound);
      assert.equal(rb.list, 403, `rebound API read: ${JSON.stringify(rb)}`);
      assert.equal(rb.ws, 'refused', `rebound WebSocket: ${JSON.stringify(rb)}`);
      // Nothing was created or run: the real origin sees no session.
      const own = await ctx.newPage();
      await own.goto(`${swe.origin}/api/sessions`);
      const list = JSON.parse(await own.textContent('body'));
      assert.equal(list.total, 0, `sessions created by hostile pages: ${JSON.stringify(list.sessions)}`);
      console.log('hostile pages:', JSON.stringify({ cross, rebound: rb }));
    } finally {
      site.close();
      await browser.close();
    }
  },

  /**
   * Adversarial markdown: emphasis, code, link and bracket soup, 120 KB and
   * 1 MB. Each used to search to the end of the text at every delimiter
   * (120 KB of `*a ` blocked the tab for 10 s). Rendered by the page's own
   * module, timed in the page; prints the times (docs/PERFORMANCE.md).
   */
  async markdown(browser) {
    const page = await open(browser);
    const url = await page.evaluate(() => performance.getEntriesByType('resource')
      .map((e) => e.name).find((n) => /\/markdown[.-][^/]*\.js$/.test(n)));
    assert.ok(url, 'the markdown module was loaded');
    const result = await page.evaluate(async (url) => {
      const { renderMarkdown } = await import(url);
      const cases = {
        'emphasis 120 KB': '*a '.repeat(40000),
        'emphasis 1 MB': '*a '.repeat(350000),
        'underscores 1 MB': '_a '.repeat(350000),
        'strong 1 MB': '**a '.repeat(262144),
        'backticks 1 MB': '`a '.repeat(350000),
        'brackets 1 MB': '[a]('.repeat(262144),
        'links 1 MB': '[x](https://a.b/'.repeat(65536),
        'mixed 1 MB': '*a **b `c [d](e _f ~~g <h http://i '.repeat(30000),
        'raw HTML 1 MB': '<b onclick=x>'.repeat(80000),
        'script and svg 1 MB': '<script>alert(1)</script><svg onload=alert(2)><img src=x onerror=alert(3)>\n'.repeat(12000),
        'javascript links 1 MB': '[x](javascript:alert(1)) [y](JAVASCRIPT:alert(1)) <javascript:alert(2)> [z](data:text/html,x)\n'.repeat(11000),
      };
      const times = {};
      for (const [name, src] of Object.entries(cases)) {
        const t = performance.now();
        const el = renderMarkdown(src);
        times[name] = Math.round(performance.now() - t);
        if (el.querySelector('b, script, img, svg, [onclick], [onload], [onerror]')) throw new Error(`${name}: HTML from text`);
        for (const a of el.querySelectorAll('a')) if (!/^(https?:|mailto:|#)/.test(a.getAttribute('href'))) throw new Error(`${name}: a link to ${a.getAttribute('href')}`);
      }
      const ok = renderMarkdown('a *b* **c** `d` [e](https://x.y/) <https://z.w/> _f_ ~~g~~ `` h`i ``');
      const shape = ['em', 'strong', 'code', 'a', 'del'].map((t) => ok.querySelectorAll(t).length);
      // CommonMark + GFM, and code in ten languages.
      const langs = { rust: 'fn main() { let x = 1; }', python: 'def f(x):\n    return x  # c', javascript: 'const a = () => 1;',
        typescript: 'let n: number = 1;', go: 'func main() { fmt.Println("x") }', java: 'public class A { int x = 1; }',
        bash: 'for f in *; do echo "$f"; done', sql: 'SELECT id FROM t WHERE x = 1;', yaml: 'key: value # c\nlist:\n  - 1',
        toml: '[package]\nname = "x"' };
      const sample = [
        '# Title', '', 'Text with a footnote[^1] and www.example.com and ~~gone~~, not main.rs or setup.py.', '',
        '| left | center | right |', '|:-----|:------:|------:|', '| a | b | c |', '| d | e | f |', '',
        '- one', '  - nested', '    - deeper', '- two', '', '1. first', '2. second', '',
        '- [ ] to do', '- [x] done', '', '> quoted', '', '---', '',
        ...Object.entries(langs).flatMap(([l, c]) => ['```' + l, c, '```', '']),
        '[^1]: The note.',
      ].join('\n');
      const doc = renderMarkdown(sample);
      document.body.append(doc);
      // Grammars load on first use: wait until every block has its spans.
      const t0 = performance.now();
      while ([...doc.querySelectorAll('pre code')].some((c) => !c.querySelector('span[class^="hljs-"]')) && performance.now() - t0 < 10000) {
        await new Promise((r) => setTimeout(r, 20));
      }
      const gfm = {
        h1: doc.querySelectorAll('h3.md-h1').length,
        th: [...doc.querySelectorAll('th')].map((x) => x.style.textAlign),
        td: doc.querySelectorAll('tbody td').length,
        nested: doc.querySelectorAll('ul ul ul li').length,
        ol: doc.querySelectorAll('ol > li').length,
        tasks: [...doc.querySelectorAll('li.task input[type=checkbox]')].map((x) => x.checked),
        quote: doc.querySelectorAll('blockquote').length,
        hr: doc.querySelectorAll(':scope > hr').length,
        del: doc.querySelectorAll('del').length,
        www: [...doc.querySelectorAll('a')].map((a) => a.getAttribute('href')).filter((h) => !h.startsWith('#')).join(' ') === 'http://www.example.com',
        footnote: doc.querySelectorAll('.footnotes li').length,
        highlighted: [...doc.querySelectorAll('pre code')].filter((c) => c.querySelector('span[class^="hljs-"]')).map((c) => c.dataset.lang),
      };
      doc.remove();
      return { times, shape, text: ok.textContent, gfm };
    }, url);
    console.log('markdown render times (ms):', JSON.stringify(result.times));
    assert.deepEqual(result.shape, [2, 1, 2, 2, 1], 'the usual inline forms still render');
    assert.equal(result.text, 'a b c d e https://z.w/ f g h`i');
    const g = result.gfm;
    assert.deepEqual({ ...g, highlighted: undefined }, {
      h1: 1, th: ['left', 'center', 'right'], td: 6, nested: 1, ol: 3, tasks: [false, true], quote: 1, hr: 1,
      del: 1, www: true, footnote: 1, highlighted: undefined,
    }, JSON.stringify(g));
    assert.deepEqual(g.highlighted, ['rust', 'python', 'javascript', 'typescript', 'go', 'java', 'bash', 'sql', 'yaml', 'ini'], 'ten languages highlighted');
    for (const [name, ms] of Object.entries(result.times)) assert.ok(ms < 2000, `${name}: ${ms} ms`);
    noErrors(page);
  },

  /** Streamed markdown reply, every tool card, no HTML from the agent, a11y, screenshots. */
  /**
   * An ACP agent (the fake agent's ACP mode): its updates render with the
   * same cards as Claude's stream — a thought, a plan, a command with its
   * output, markdown text, usage in the footer — and its permission request
   * shows the agent's own options, whose answer reaches the agent.
   */
  /**
   * Two agents on the server (Claude Code, and `gemini` found on PATH): the
   * sidebar offers the choice, a new session runs the chosen one for good,
   * and the header says which.
   */
  async agents(browser) {
    const page = await open(browser);
    await page.waitForSelector('#new-agent-label:not([hidden])', { timeout: WAIT });
    const names = await page.locator('#new-agent option').allTextContents();
    assert.deepEqual(names, ['claude', 'gemini']);
    await page.selectOption('#new-agent', 'gemini');
    await page.click('#new-session');
    await send(page, 'hello gemini');
    await ended(page, 1);
    assert.equal(await text(page, '#agent'), 'gemini');
    assert.match(await text(page, '#transcript .assistant'), /You said: hello gemini/);
    assert.equal(await page.isVisible('#mode'), false);
    const gemini = sessionOf(page);
    await page.selectOption('#new-agent', 'claude');
    await page.click('#new-session');
    await send(page, 'hello claude');
    await ended(page, 1);
    assert.equal(await text(page, '#agent'), 'claude');
    assert.equal(await page.isVisible('#mode'), true, 'Claude sessions keep the permission modes');
    // Back to the first session: still gemini after a reload.
    await page.goto(`${URL_}?s=${gemini}`);
    await page.waitForFunction(() => document.getElementById('agent').textContent === 'gemini', null, { timeout: WAIT })
      .catch(async (e) => {
        const seen = await page.evaluate(() => ({ agent: document.getElementById('agent').textContent, url: location.href,
          transcript: document.getElementById('transcript').textContent.slice(0, 200), conn: document.getElementById('conn').textContent }));
        throw new Error(`${e.message}; the page shows ${JSON.stringify(seen)}`);
      });
    noErrors(page);
  },

  async acp(browser) {
    const page = await open(browser);
    await send(page, 'showcase');
    await ended(page, 1);
    assert.equal(await count(page, '#transcript details.thinking'), 1, 'the thought is a collapsed block');
    assert.equal(await count(page, '#transcript .plan .todo li'), 3);
    assert.equal(await count(page, '#transcript .plan .todo li.completed'), 1);
    const run = '#transcript .card[data-tool="execute"]';
    assert.equal(await count(page, run), 1, 'tool_call and its update make one card');
    assert.match(await text(page, run + ' .state'), /done/);
    await page.click(run + ' summary');
    assert.match(await text(page, run), /test result: ok\. 3 passed/);
    assert.ok(await count(page, '#transcript .assistant strong') > 0, 'markdown rendered');
    assert.match(await text(page, '.footer'), /1,200 \/ 200,000 tokens of context/);
    assert.equal(await text(page, '#agent'), 'acp · plan', "the header names the agent and the agent's own mode");
    assert.equal(await page.isVisible('#mode'), false, "Claude's permission modes are not offered");
    assert.equal(await count(page, '.md.cursor'), 0, 'no block is left streaming');

    await send(page, 'write notes.txt hello from acp');
    await page.waitForSelector('.approval button[data-option]', { timeout: WAIT });
    const names = await page.locator('.approval button[data-option]').allTextContents();
    assert.deepEqual(names, ['Always allow', 'Allow', 'Reject'], 'the agent\'s options, by name');
    // In the tool call's card, once: the approval does not repeat it.
    assert.ok(await count(page, '.card.asking .diff') > 0, 'the proposed write shows as a diff');
    assert.equal(await count(page, '.approval .diff'), 0);
    await page.click('.approval button[data-option="yes"]');
    await ended(page, 2);
    assert.match(await text(page, '.approval .verdict'), /Allowed once/);
    assert.equal(fs.readFileSync(path.join(WORKDIR, 'notes.txt'), 'utf8'), 'hello from acp');
    assert.match(await text(page), /notes\.txt: written/);
    assert.equal(await count(page, '#transcript .card .diff'), 1, 'the served write repeats no diff the agent showed');
    assert.equal(await count(page, '.md.cursor'), 0);
    await shot(page, 'acp');
    noErrors(page);
  },

  async chat(browser) {
    const page = await open(browser);
    assert.equal(await page.isVisible('#empty'), true, 'an empty session explains itself');
    await send(page, 'stream 40 25');
    await running(page);
    // Seen while streaming: partial text with a cursor, before the turn ends
    // (the block and its cursor come with the block's start, its first words
    // with the next event).
    await page.waitForFunction(() => {
      const a = document.querySelector('#transcript .assistant');
      return a && a.querySelector('.md.cursor') && /Here0/.test(a.textContent);
    }, null, { timeout: WAIT });
    const partial = await text(page, '#transcript .assistant');
    assert.match(partial, /Here0/);
    assert.doesNotMatch(partial, /and39/, 'text arrives in pieces, not at once');
    await ended(page, 1);
    assert.equal(await count(page, '#transcript .assistant'), 1, 'the full message replaces the streamed one');
    assert.equal(await count(page, '.md.cursor'), 0);
    assert.match(await text(page, '#transcript .assistant'), /and39/);
    assert.ok(await count(page, '#transcript .assistant strong') > 0, 'markdown rendered');
    assert.match(await text(page, '.footer'), /turn/);

    await send(page, 'showcase');
    await ended(page, 2);
    const card = (tool) => `#transcript .card[data-tool="${tool}"]`;
    assert.equal(await count(page, card('Bash')), 2);
    assert.equal(await count(page, card('Bash') + '.error'), 1, 'a failing command is marked');
    assert.match(await text(page, card('Bash') + '.error'), /Exit code 101/);
    assert.ok(await count(page, card('Edit') + ' .diff .ln.add') > 0);
    assert.ok(await count(page, card('Edit') + ' .diff .ln.del') > 0);
    assert.equal(await count(page, card('MultiEdit') + ' .diff'), 2);
    assert.equal(await count(page, card('TodoWrite') + ' .todo li'), 3);
    assert.equal(await count(page, card('TodoWrite') + ' .todo li.completed'), 1);
    assert.equal(await count(page, card('Task') + ' .children ' + card('Grep').slice(12)), 1, 'subagent calls nest under their Task');
    assert.equal(await count(page, card('Task') + ' .children ' + card('Glob').slice(12)), 1);
    assert.match(await text(page, card('Task')), /Two callers/);
    assert.match(await text(page, card('WebFetch')), /doc\.rust-lang\.org/);
    assert.match(await text(page, card('WebSearch')), /rust str parse whitespace/);
    await page.click(card('mcp__db__query') + ' summary');
    assert.match(await text(page, card('mcp__db__query')), /select count/);
    assert.equal(await page.getAttribute('details.thinking', 'open'), null, 'thinking is collapsed');
    await page.waitForSelector('#transcript pre .hljs-keyword', { timeout: WAIT }); // code is highlighted (its grammar loads on first use)
    assert.equal(await count(page, '#transcript .md b'), 0, 'HTML in agent text stays text');
    assert.match(await text(page), /<b>not html<\/b>/);
    const rel = await page.getAttribute('#transcript a[href="https://example.com/docs"]', 'rel');
    assert.match(rel, /noopener/);

    // Hostile text from the user, echoed by the agent: shown, never run.
    await send(page, '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>');
    await ended(page, 3);
    assert.equal(await count(page, '#transcript img'), 0);
    assert.equal(await page.evaluate(() => window.pwned), undefined);
    assert.match(await text(page, '#transcript .bubble >> nth=-1'), /<img src=x/);

    // Half an emoji (a lone UTF-16 surrogate, as a JS slice can leave): the
    // message still goes, with U+FFFD in place of the half.
    await page.evaluate(() => { document.getElementById('input').value = 'half \ud83d emoji'; });
    await page.press('#input', 'Enter');
    await ended(page, 4);
    assert.match(await text(page, '#transcript .bubble >> nth=-1'), /half \ufffd emoji/);

    // Every control has a name; Tab reaches the main ones.
    const unnamed = await page.evaluate(() => [...document.querySelectorAll('button, select, textarea, input')]
      .filter((e) => e.offsetParent !== null)
      .filter((e) => !(e.getAttribute('aria-label') || e.textContent.trim() || (e.id && document.querySelector(`label[for="${e.id}"]`)) || e.closest('label')))
      .map((e) => e.outerHTML.slice(0, 80)));
    assert.deepEqual(unnamed, [], 'every visible control is labelled');
    await page.focus('#new-session');
    const reached = new Set();
    for (let i = 0; i < 60; i++) {
      await page.keyboard.press('Tab');
      reached.add(await page.evaluate(() => document.activeElement?.id || document.activeElement?.tagName));
    }
    for (const id of ['mode', 'input', 'send', 'theme']) assert.ok(reached.has(id), `Tab reaches #${id}: ${[...reached]}`);
    const outline = await page.evaluate(() => { document.getElementById('send').focus(); return getComputedStyle(document.getElementById('send')).outlineStyle; });
    assert.notEqual(outline, 'none', 'focus is visible');

    // Assets are cached forever under hashed names; the page is not.
    const asset = await page.evaluate(() => document.querySelector('script[type=module]').src);
    const r = await page.request.get(asset);
    assert.match(r.headers()['cache-control'], /immutable/);
    assert.equal(r.headers()['content-encoding'], 'gzip', 'assets go out gzipped');
    assert.match(asset, /\/assets\/app\.[0-9a-f]{16}\.js$/);
    const p = await page.request.get(page.url());
    assert.match(p.headers()['cache-control'], /no-cache/);
    assert.match(p.headers()['content-security-policy'], /script-src 'self'/);

    // Screenshots: the showcase in light and dark.
    await page.selectOption('#theme', 'light');
    await page.locator(card('TodoWrite')).scrollIntoViewIfNeeded();
    await page.request.patch(new URL(`api/sessions/${sessionOf(page)}`, URL_).href, { data: { title: 'Fix the parser' } });
    await page.evaluate(() => window.sweSwe.sessions.refresh());
    await page.click(card('Bash') + ' >> nth=0 >> summary');
    await page.evaluate(() => document.querySelectorAll('#transcript .bubble')[1].scrollIntoView({ block: 'start' }));
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    await page.evaluate(() => { document.getElementById('jump').hidden = true; document.activeElement?.blur(); });
    await shot(page, 'desktop-light');
    await page.selectOption('#theme', 'dark');
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark');
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.notEqual(bg, 'rgb(255, 255, 255)', 'dark theme applies');
    await shot(page, 'desktop-dark');
    await page.reload();
    await connected(page);
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark', 'the theme is remembered');
    await page.selectOption('#theme', 'system');
    noErrors(page);
  },

  /** Approvals answered from another tab; deny with reason; questions; plans; modes. */
  async approvals(browser) {
    const a = await open(browser);
    const b = await open(browser, a.url());
    await send(a, 'write a.txt');
    await b.waitForSelector('.approval[data-tool="Write"] button[data-decision="allow"]');
    await a.waitForSelector('.approval[data-tool="Write"]');
    assert.match(await text(b, '.card.asking'), /a\.txt/);
    await b.click('.approval button[data-decision="allow"]');
    await a.waitForSelector('.approval.done');
    assert.match(await text(a, '.approval .verdict'), /Allowed once/);
    await ended(a, 1);
    assert.equal(fs.readFileSync(path.join(WORKDIR, 'a.txt'), 'utf8'), 'written by fake\n');

    await send(a, 'write b.txt');
    await a.waitForSelector('.approval:not(.done) .reason');
    await a.fill('.approval:not(.done) .reason', 'not now');
    await a.click('.approval:not(.done) button[data-decision="deny"]');
    await ended(b, 2);
    assert.match(await text(b, '.approval >> nth=1'), /Denied — “not now”/);
    assert.match(await text(b), /Tool said: not now/);
    assert.equal(fs.existsSync(path.join(WORKDIR, 'b.txt')), false);

    await send(a, 'edit src/lib.rs');
    await b.waitForSelector('.card.asking .diff .ln.add');
    assert.match(await text(b, '.card.asking .diff'), /let extra = true;/);
    await b.click('.approval:not(.done) button[data-decision="allow_always"]');
    await ended(a, 3);
    assert.match(await text(a, '.approval >> nth=2'), /Always allowed/);

    await send(a, 'ask');
    await b.waitForSelector('.approval[data-tool="AskUserQuestion"]:not(.done) input[value="PostgreSQL"]');
    await b.check('.approval:not(.done) input[value="PostgreSQL"]');
    await b.click('.approval:not(.done) button[data-decision="allow"]');
    await ended(a, 4);
    assert.match(await text(a), /You chose: .*PostgreSQL/);
    assert.match(await text(a, '.approval[data-tool="AskUserQuestion"] .verdict'), /Which database should I use\? → PostgreSQL/);

    // Mode: changed in one tab, shown in both; an approved plan ends plan mode.
    await a.selectOption('#mode', 'plan');
    await b.waitForFunction(() => document.getElementById('mode').value === 'plan');
    await send(a, 'plan');
    await b.waitForSelector('.approval[data-tool="ExitPlanMode"]:not(.done) ol li');
    assert.match(await text(b, '.approval[data-tool="ExitPlanMode"]'), /Fix the off-by-one/);
    await b.click('.approval:not(.done) button[data-decision="allow"]');
    await ended(a, 5);
    assert.match(await text(a), /Plan approved; mode now default/);
    await a.waitForFunction(() => document.getElementById('mode').value === 'default');
    await b.waitForFunction(() => document.getElementById('mode').value === 'default');

    await b.selectOption('#mode', 'acceptEdits');
    await a.waitForFunction(() => document.getElementById('mode').value === 'acceptEdits');
    const asked = await count(a, '.approval');
    await send(a, 'write c.txt');
    await ended(a, 6);
    assert.equal(await count(a, '.approval'), asked, 'acceptEdits: no question for a Write');
    assert.ok(fs.existsSync(path.join(WORKDIR, 'c.txt')));
    noErrors(a); noErrors(b);
  },

  /** Stop button, Esc, and the visible, cancellable queue. */
  async stop(browser) {
    const page = await open(browser);
    await send(page, 'hold');
    await running(page);
    assert.equal(await page.isVisible('#stop'), true);
    await page.click('#stop');
    await ended(page, 1);
    assert.match(await text(page, '.notice.stopped'), /Stopped/);
    assert.equal(await page.isVisible('#running'), false);
    assert.equal(await page.isVisible('#stop'), false);

    await send(page, 'hold');
    await running(page);
    await page.press('#input', 'Escape');
    await ended(page, 2);

    await send(page, 'hold');
    await running(page);
    await send(page, 'queued one');
    await send(page, 'queued two');
    await page.waitForFunction(() => document.querySelectorAll('#queue .queued').length === 2);
    await page.click('#queue .queued:nth-child(2) button');
    await page.waitForFunction(() => document.querySelectorAll('#queue .queued').length === 1);
    assert.match(await text(page, '#queue'), /queued one/);
    await page.click('#stop');
    await ended(page, 4);
    assert.equal(await page.isVisible('#queue'), false);
    const all = await text(page);
    assert.match(all, /You said: queued one/);
    assert.doesNotMatch(all, /queued two/);
    // An agent that dies mid-turn: one red notice that says the turn failed
    // and why (the server sends the reason as an error and again with the
    // turn's end; the page showed it twice).
    await send(page, 'crash');
    await ended(page, 5);
    const failed = await page.$$eval('.notice.err', (ns) => ns.map((n) => n.textContent));
    assert.deepEqual(failed, ['The turn failed: the agent exited during the turn (exit code 3): fake agent crashing on purpose.'], 'one notice for a failed turn');
    noErrors(page);
  },

  /** Reload and a dropped connection in the middle of a stream: nothing lost, nothing twice. */
  async reload(browser) {
    const page = await open(browser);
    const words = ['Here', 'is', 'bold', 'and', 'code', 'text.'];
    const check = async (nth, n) => {
      const t = await text(page, `#transcript .assistant >> nth=${nth}`);
      const seen = [...t.matchAll(/\b(Here|is|bold|and|code|text\.)(\d+)\b/g)].map((m) => m[1] + m[2]);
      assert.deepEqual(seen, [...Array(n).keys()].map((i) => words[i % 6] + i), 'every token once, in order');
    };
    await send(page, 'stream 100 20');
    await page.waitForFunction(() => /Here0/.test(document.getElementById('transcript').innerText));
    await page.reload();
    await connected(page);
    await ended(page, 1);
    assert.equal(await count(page, '#transcript .bubble'), 1);
    assert.equal(await count(page, '#transcript .assistant'), 1);
    await check(0, 100);

    await send(page, 'stream 100 20');
    await page.waitForFunction(() => /Here0/.test(document.querySelectorAll('#transcript .assistant')[1]?.innerText || ''));
    await page.evaluate(() => window.sweSwe.conn.ws.close());
    await page.waitForSelector('#conn[data-state="closed"]');
    await page.waitForSelector('#conn[data-state="open"]');
    await ended(page, 2);
    assert.equal(await count(page, '#transcript .bubble'), 2);
    assert.equal(await count(page, '#transcript .assistant'), 2);
    await check(1, 100);
    const seqs = await page.evaluate(() => window.sweSwe.transcript.lastSeq);
    const fresh = await open(browser, page.url());
    await ended(fresh, 2);
    assert.equal(await fresh.evaluate(() => window.sweSwe.transcript.lastSeq), seqs);
    assert.equal(await text(fresh), await text(page), 'a reconnected tab shows what a fresh one shows');
    noErrors(page); noErrors(fresh);
  },

  /** `@` file picker and `/` commands. */
  async picker(browser) {
    const page = await open(browser);
    await page.fill('#input', 'look at @pars');
    await page.waitForSelector('#picker .opt');
    assert.match(await text(page, '#picker .opt >> nth=0'), /src\/parser\.rs/);
    assert.ok(await count(page, '#picker .opt mark') >= 4, 'matched letters are highlighted');
    await page.press('#input', 'ArrowDown');
    await page.press('#input', 'ArrowUp');
    assert.equal(await page.getAttribute('#picker .opt >> nth=0', 'aria-selected'), 'true');
    await page.press('#input', 'Enter');
    assert.equal(await page.inputValue('#input'), 'look at @src/parser.rs ');
    assert.equal(await page.isVisible('#picker'), false);
    await page.fill('#input', '@secret');
    await page.waitForSelector('#picker .none');
    assert.match(await text(page, '#picker'), /No files match/, 'ignored files are not offered');
    await page.press('#input', 'Escape');
    assert.equal(await page.isVisible('#picker'), false);

    // Slash commands come from the agent's init.
    await page.fill('#input', 'hi');
    await page.press('#input', 'Enter');
    await ended(page, 1);
    await page.fill('#input', '/');
    await page.waitForSelector('#picker .opt');
    const all = await text(page, '#picker');
    for (const c of ['/compact', '/review', '/cost']) assert.match(all, new RegExp(c));
    await page.fill('#input', '/rev');
    await page.waitForFunction(() => [...document.querySelectorAll('#picker .opt .main')].map((o) => o.textContent).join(' ') === '/review /security-review');
    await page.press('#input', 'Tab');
    assert.equal(await page.inputValue('#input'), '/review ');
    noErrors(page);
  },

  /** Sidebar: new, switch, URL, reload, rename, delete, Claude Code's history. */
  async sessions(browser) {
    const page = await open(browser);
    await send(page, 'first session');
    await ended(page, 1);
    const first = sessionOf(page);
    await page.click('#new-session');
    await page.waitForFunction((first) => {
      const s = new URLSearchParams(location.search).get('s');
      return s && s !== first;
    }, first);
    assert.equal(await count(page, '#transcript .bubble'), 0);
    await send(page, 'second session');
    await ended(page, 1);
    const second = sessionOf(page);
    await page.waitForFunction(() => document.querySelectorAll('#session-list li[data-id]').length === 2);
    await page.click(`#session-list li[data-id="${first}"] .open`);
    await page.waitForFunction((first) => new URLSearchParams(location.search).get('s') === first, first);
    await ended(page, 1);
    assert.match(await text(page), /You said: first session/);
    assert.doesNotMatch(await text(page), /second session/);
    await page.reload();
    await connected(page);
    await ended(page, 1);
    assert.equal(sessionOf(page), first, 'the URL names the session');
    assert.match(await text(page), /You said: first session/);
    await page.goBack();
    await page.waitForFunction((s) => new URLSearchParams(location.search).get('s') === s, second);
    await ended(page, 1);
    assert.match(await text(page), /You said: second session/);

    await page.click(`#session-list li[data-id="${first}"] button[title="Rename"]`);
    await page.fill('#session-list input', 'Renamed first');
    // Tried: the list is redrawn while the name is typed (another tab
    // renames the other session: every tab's list refreshes). The other
    // row changes; the edit keeps its text and focus, and is saved.
    await page.evaluate((id) => fetch(`api/sessions/${encodeURIComponent(id)}`, {
      method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ title: 'Renamed elsewhere' }),
    }), second);
    await page.waitForSelector(`#session-list li[data-id="${second}"]:has-text("Renamed elsewhere")`);
    assert.equal(await page.evaluate(() => document.activeElement?.value), 'Renamed first', 'the edit survives a redraw');
    await page.press('#session-list input', 'Enter');
    await page.waitForSelector(`#session-list li[data-id="${first}"]:has-text("Renamed first")`);
    // Escape cancels: the input's blur as the list is redrawn saves nothing
    // (Chromium fires it on removal; it used to save the typed name).
    const patches = [];
    const onRequest = (r) => { if (r.method() === 'PATCH') patches.push(r.postData()); };
    page.on('request', onRequest);
    await page.click(`#session-list li[data-id="${first}"] button[title="Rename"]`);
    await page.fill('#session-list input', 'Not this');
    await page.press('#session-list input', 'Escape');
    await page.waitForFunction(() => !document.querySelector('#session-list input'));
    await page.evaluate(() => fetch('healthz')); // requests made before it are reported by now
    page.off('request', onRequest);
    assert.deepEqual(patches, [], 'Escape saved the name');
    await page.waitForSelector(`#session-list li[data-id="${first}"]:has-text("Renamed first")`);
    await page.click(`#session-list li[data-id="${second}"] button[title="Delete"]`);
    await page.waitForFunction((s) => !document.querySelector(`#session-list li[data-id="${s}"]`), second);

    // Claude Code's own past conversation for this folder, resumed here.
    await page.waitForSelector('#claude-list li');
    assert.match(await text(page, '#claude-list'), /an old question/);
    const before = sessionOf(page);
    await page.click('#claude-list li .open');
    await page.waitForFunction((b) => new URLSearchParams(location.search).get('s') !== b, before);
    await connected(page);
    // Its past turns are there, rendered like live ones (issue 14, point 1).
    await ended(page, 1);
    await page.waitForSelector('#transcript .item.user .bubble:has-text("an old question")');
    await page.waitForSelector('#transcript .assistant strong:has-text("old")');
    await page.waitForSelector('#transcript .card:has-text("ls")');
    assert.match(await text(page), /Two entries\./);
    assert.match(await text(page), /1 earlier turn read from its transcript/);
    await page.waitForFunction(() => document.getElementById('title').textContent === 'an old question');
    // The time it was asked, exactly on hover.
    const stamp = await page.locator('#transcript .item.user time.ago').first();
    assert.match(await stamp.getAttribute('datetime'), /^2026-11-01T10:00:00/);
    // Ours now: no longer offered as Claude Code history (point 2).
    await page.waitForFunction(() => !document.querySelector('#claude-list li'));
    await shot(page, 'resumed-history');
    noErrors(page);
  },

  /** A 375-px phone: drawer sidebar, no sideways scrolling, tappable approvals. */
  async phone(browser) {
    const context = await browser.newContext({ viewport: { width: 375, height: 740 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    const page = await open(browser, URL_, { context });
    const box = await page.locator('#sidebar').boundingBox();
    assert.ok(box.x + box.width <= 0, 'the sidebar is off screen');
    await page.tap('#open-sidebar');
    await page.waitForFunction(() => document.getElementById('sidebar').getBoundingClientRect().left >= 0);
    await page.tap('#scrim', { position: { x: 360, y: 400 } }); // beside the drawer
    await page.waitForFunction(() => document.getElementById('sidebar').getBoundingClientRect().right <= 0);
    // The placeholder fits on its line; the connection says what it is.
    const fit = await page.evaluate(() => {
      const i = document.getElementById('input');
      const cs = getComputedStyle(i);
      const ctx = document.createElement('canvas').getContext('2d');
      ctx.font = `${cs.fontSize} ${cs.fontFamily}`;
      return { text: ctx.measureText(i.placeholder).width, room: i.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight) };
    });
    assert.ok(fit.text <= fit.room, `the placeholder fits: ${JSON.stringify(fit)}`);
    const conn = await page.evaluate(() => { const c = document.getElementById('conn'); return { text: c.textContent, size: parseFloat(getComputedStyle(c).fontSize), w: c.getBoundingClientRect().width }; });
    assert.ok(conn.text === 'Connected' && conn.size >= 10 && conn.w > 40, `the connection state is words, not a dot: ${JSON.stringify(conn)}`);
    await page.fill('#input', 'showcase');
    await page.tap('#send');
    await ended(page, 1);
    // Every control one can tap is at least 44 px tall.
    const small = await page.evaluate(() => [...document.querySelectorAll('button, select, summary, input, textarea, a[href]')]
      .filter((e) => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0 && getComputedStyle(e).visibility !== 'hidden' && e.type !== 'checkbox' && e.type !== 'radio'; })
      // Links inside prose are exempt (WCAG 2.5.8: inline targets).
      .filter((e) => !(e.tagName === 'A' && e.closest('.md')))
      .filter((e) => e.getBoundingClientRect().height < 44)
      .map((e) => `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}.${e.className} ${Math.round(e.getBoundingClientRect().height)}px "${(e.textContent || e.ariaLabel || '').slice(0, 20)}"`));
    assert.deepEqual(small, [], 'controls under 44 px on a phone');
    // A message's actions sit under its own text: above it, a Copy row
    // looked like the previous message's.
    const above = await page.evaluate(() => [...document.querySelectorAll('.assistant, .item.user')]
      .map((m) => {
        const actions = m.querySelector(':scope > .msg-actions').getBoundingClientRect();
        const text = [...m.children].filter((c) => !c.classList.contains('msg-actions')).map((c) => c.getBoundingClientRect());
        return { bottom: Math.max(...text.map((r) => r.bottom)), actions: actions.top, what: m.textContent.slice(0, 30) };
      })
      .filter((m) => m.actions < m.bottom - 1));
    assert.ok((await page.locator('.assistant').count()) > 0, 'the showcase has replies');
    assert.deepEqual(above, [], 'message actions above their message on a phone');
    await page.fill('#input', 'write phone.txt');
    await page.tap('#send');
    await page.waitForSelector('.approval:not(.done) button[data-decision="allow"]');
    const overflow = await page.evaluate(() => ({ doc: document.documentElement.scrollWidth, scroller: document.getElementById('scroller').scrollWidth, width: window.innerWidth }));
    assert.ok(overflow.doc <= overflow.width && overflow.scroller <= overflow.width, `no sideways scrolling: ${JSON.stringify(overflow)}`);
    for (const d of ['allow', 'allow_always', 'deny']) {
      const b = await page.locator(`.approval:not(.done) button[data-decision="${d}"]`).boundingBox();
      assert.ok(b.x >= 0 && b.x + b.width <= 375 && b.height >= 44, `${d} is on screen and big enough: ${JSON.stringify(b)}`);
    }
    // The header fits while the agent waits: every control on screen.
    const off = await page.evaluate(() => [...document.querySelectorAll('#topbar > *')]
      .filter((e) => { const r = e.getBoundingClientRect(); return r.width > 0 && (r.left < 0 || r.right > window.innerWidth); })
      .map((e) => e.id || e.className));
    assert.deepEqual(off, [], 'header items off screen');
    assert.equal(await text(page, '#conn'), 'Connected');
    await shot(page, 'phone');
    await page.tap('.approval:not(.done) button[data-decision="allow"]');
    await ended(page, 2);
    assert.ok(fs.existsSync(path.join(WORKDIR, 'phone.txt')));
    noErrors(page);
  },

  /** 2,000 messages: live, replayed on load, and scrolled; prints the figures. */
  async long(browser) {
    const page = await open(browser);
    const t0 = Date.now();
    await send(page, 'lines 2000');
    await ended(page, 1, 120_000);
    const live = Date.now() - t0;
    assert.equal(await count(page, '#transcript .assistant'), 2001);
    const t1 = Date.now();
    await page.reload();
    await connected(page);
    await ended(page, 1, 120_000);
    const replay = Date.now() - t1;
    const lines = await page.evaluate(() => [...document.querySelectorAll('#transcript .assistant')].map((e) => e.textContent.trim()));
    assert.deepEqual(lines.slice(0, 2000), [...Array(2000).keys()].map((i) => `line ${i}`));
    const frames = await page.evaluate(async () => {
      const s = document.getElementById('scroller');
      s.scrollTop = 0;
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
      const deltas = [];
      let last = performance.now();
      while (s.scrollTop + s.clientHeight < s.scrollHeight - 2) {
        s.scrollTop += 600;
        await new Promise((r) => requestAnimationFrame(r));
        const now = performance.now();
        deltas.push(now - last);
        last = now;
      }
      deltas.sort((a, b) => a - b);
      const q = (p) => deltas[Math.min(deltas.length - 1, Math.floor(p * deltas.length))];
      return { frames: deltas.length, p50: q(0.5), p95: q(0.95), max: deltas[deltas.length - 1] };
    });
    const f = (x) => x.toFixed(1);
    console.log(`FIGURE 2,000 messages: live render ${live} ms, replay on load ${replay} ms, scroll ${frames.frames} frames p50 ${f(frames.p50)} ms p95 ${f(frames.p95)} ms max ${f(frames.max)} ms`);
    noErrors(page);
  },

  /** A template agent's ANSI colours. */
  async ansi(browser) {
    const page = await open(browser);
    await send(page, 'color');
    await ended(page, 1);
    assert.equal(await text(page, '#transcript .ansi .a31'), 'red');
    assert.match(await text(page, '#transcript .ansi'), /red plain/);
    // A corpus of real CLI output (tests/fixtures/ansi: cargo, ls with OSC 8
    // hyperlinks, git diff, grep) and a kitchen sink of SGR forms, rendered
    // line by line as the transcript does.
    const url = await page.evaluate(() => performance.getEntriesByType('resource')
      .map((e) => e.name).find((n) => /\/ansi[.-][^/]*\.js$/.test(n)));
    const dir = new URL('../fixtures/ansi/', import.meta.url);
    const corpus = Object.fromEntries(fs.readdirSync(dir).map((f) => [f, fs.readFileSync(new URL(f, dir), 'latin1')]));
    const out = await page.evaluate(async ({ url, corpus }) => {
      const { appendAnsi } = await import(url);
      const res = {};
      for (const [name, text] of Object.entries(corpus)) {
        const pre = document.createElement('pre');
        let state = {};
        for (const line of text.replace(/\n$/, '').split('\n')) state = appendAnsi(pre, line + '\n', state);
        document.body.append(pre);
        const spans = [...pre.querySelectorAll('span')].map((s) => [s.textContent, s.className, getComputedStyle(s).color, s.style.backgroundColor]);
        res[name] = { text: pre.textContent, spans };
        pre.remove();
      }
      return res;
    }, { url, corpus });
    for (const [name, r] of Object.entries(out)) {
      assert.doesNotMatch(r.text, /[\x00-\x08\x0b-\x1f\x7f]/, `${name}: control characters left: ${JSON.stringify(r.text)}`);
      assert.doesNotMatch(r.text, /file:\/\/|8;;|\[\d+(;\d+)*m/, `${name}: escape residue: ${JSON.stringify(r.text)}`);
    }
    const span = (name, t) => out[name].spans.find((s) => s[0].trim() === t) || [];
    assert.match(out['cargo-build-warning.txt'].text, /^ {3}Compiling ansidemo/);
    assert.equal(span('cargo-build-warning.txt', 'Compiling')[1], 'a-b a92');
    assert.equal(span('cargo-build-warning.txt', 'warning')[1], 'a-b a33');
    assert.equal(span('ls-color-hyperlink.txt', 'sub')[1], 'a-b a34', 'a folder, its OSC 8 link kept as text');
    assert.equal(out['ls-color-hyperlink.txt'].text, 'a.rs\nlink\nrun.sh\nsub\n');
    assert.equal(span('git-diff.txt', 'B')[1], 'a32');
    assert.equal(span('git-diff.txt', '-b')[1], 'a31');
    assert.match(out['git-diff.txt'].text, /\n-b\n\+B\n c\n\+d\n$/);
    assert.equal(span('grep.txt', 'main')[1], 'a-b a31');
    const sink = out['sgr-kitchen-sink.txt'];
    assert.equal(span('sgr-kitchen-sink.txt', 'truecolor')[2], 'rgb(255, 100, 0)');
    assert.equal(span('sgr-kitchen-sink.txt', '256 orange')[2], 'rgb(255, 135, 0)');
    assert.equal(span('sgr-kitchen-sink.txt', 'colon form')[2], 'rgb(255, 0, 0)');
    assert.equal(span('sgr-kitchen-sink.txt', 'bg')[3], 'rgb(0, 95, 0)');
    assert.equal(span('sgr-kitchen-sink.txt', 'underline')[1], 'a-u');
    assert.equal(span('sgr-kitchen-sink.txt', 'bold italic')[1], 'a-b a-i');
    assert.match(sink.text, /progress 100%/);
    assert.doesNotMatch(sink.text, /progress 50%/, 'a carriage return overwrites the line');
    noErrors(page);
  },

  /** Real Claude Code output (the captured fixtures, every version) renders without a script error. */
  async fixtures(browser) {
    const page = await open(browser);
    const dir = new URL('../fixtures/', import.meta.url);
    const files = ['claude-code-2.1.197/duplex-allow-partial-messages.transcript', 'claude-code-2.1.197/duplex-interrupt-deny.transcript',
      ...fs.readdirSync(new URL('claude-code-2.1.197/', dir)).filter((f) => f.endsWith('.jsonl')).map((f) => 'claude-code-2.1.197/' + f),
      'other-versions/claude-stream-json-real.jsonl'];
    let seq = 1_000_000, run = 1000, lines = 0;
    const events = [];
    for (const f of files) {
      events.push({ seq: seq++, type: 'user_message', content: f, runId: run });
      events.push({ seq: seq++, type: 'exec_start', runId: run });
      for (const line of fs.readFileSync(new URL(f, dir), 'utf8').split('\n')) {
        if (!line.trim() || line.startsWith('>> ')) continue;
        events.push({ seq: seq++, type: 'claudejson', content: line });
        lines++;
      }
      events.push({ seq: seq++, type: 'exec_end', runId: run++, status: 'success' });
    }
    await page.evaluate((evs) => { for (const e of evs) window.sweSwe.transcript.push(e); }, events);
    await ended(page, files.length);
    const shown = await page.evaluate(() => ({
      texts: document.querySelectorAll('#transcript .assistant').length,
      cards: document.querySelectorAll('#transcript .card.tool').length,
      results: document.querySelectorAll('#transcript .card .state.ok, #transcript .card .state.err').length,
      footers: document.querySelectorAll('#transcript .footer').length,
    }));
    console.log(`fixtures: ${lines} lines from ${files.length} files → ${JSON.stringify(shown)}`);
    assert.ok(shown.texts >= files.length - 2 && shown.cards >= 4 && shown.results >= 4 && shown.footers >= files.length - 1, JSON.stringify(shown));
    // (textContent: items far off screen are not rendered, so have no innerText)
    assert.match(await page.evaluate(() => document.getElementById('transcript').textContent), /You said/);
    noErrors(page);
  },

  /** The real Claude Code CLI behind the page (tests/real_claude.rs runs this). */
  async real(browser) {
    const page = await open(browser);
    const file = path.join(WORKDIR, 'real.txt');
    await send(page, `write file ${file}`);
    await page.waitForSelector('.approval[data-tool="Write"]:not(.done) button[data-decision="allow"]', { timeout: 60_000 });
    // The approval is in the Write's own card, which shows the path and diff.
    assert.match(await text(page, '.card.asking'), /real\.txt/);
    assert.ok(await count(page, '.card.asking .diff .ln.add') > 0, 'the Write shows what it writes');
    await page.click('.approval:not(.done) button[data-decision="allow"]');
    await ended(page, 1, 60_000);
    assert.equal(fs.readFileSync(file, 'utf8'), 'written by mock\n');
    assert.match(await text(page, '#transcript .card[data-tool="Write"] .state'), /done/);
    assert.match(await text(page), /Tool said:/);
    assert.match(await text(page, '.footer'), /\$\d/);

    // Streamed text, stopped mid-way.
    await send(page, 'slow 40');
    await page.waitForSelector('#transcript .md.cursor', { timeout: 60_000 });
    await page.click('#stop');
    await ended(page, 2, 60_000);
    assert.match(await text(page, '.notice.stopped'), /Stopped/);

    // The conversation goes on; the CLI's own slash commands are offered.
    await send(page, 'hello there');
    await ended(page, 3, 60_000);
    assert.match(await text(page), /You said: hello there/);
    await page.fill('#input', '/');
    await page.waitForSelector('#picker .opt');
    assert.ok(await count(page, '#picker .opt') >= 3, 'the init line announced slash commands');
    noErrors(page);
  },

  /**
   * Text as a new user reads it: a single line break is a break, `/clear`
   * leaves a "context cleared" divider (not "(no content)"), and a session's
   * title is one line of plain text, not the raw markdown of its first message.
   */
  /**
   * Costs and times (issue 14, points 8 and 20). Before, every footer showed
   * the CLI's running total as that turn's cost ($0.0125, then $0.0250 for a
   * second turn that cost $0.0125) and messages had no time.
   */
  async usage(browser) {
    const page = await open(browser);
    await send(page, 'first');
    await ended(page, 1);
    await send(page, 'second');
    await ended(page, 2);
    const footers = await page.$$eval('#transcript .footer', (els) => els.map((e) => e.textContent));
    assert.equal(footers.length, 2, JSON.stringify(footers));
    for (const f of footers) {
      assert.match(f, /\$0\.0125/, `each turn's own cost: ${f}`);
      assert.match(f, /10 in \/ 5 out tokens/);
    }
    assert.doesNotMatch(footers[1], /0\.0250/, 'not the running total');
    await page.waitForFunction(() => document.getElementById('usage').textContent === '$0.0250 · 12k / 200k context');
    // Each message and reply says when; exactly on hover.
    const times = await page.$$eval('#transcript time.ago', (els) => els.map((e) => [e.textContent, e.title, e.getAttribute('datetime')]));
    assert.equal(times.length, 4, JSON.stringify(times));
    for (const [rel, exact, iso] of times) {
      assert.equal(rel, 'just now');
      assert.ok(exact && Math.abs(Date.parse(iso) - Date.now()) < 60000, `${exact} ${iso}`);
    }
    // The session's total is known after a reload, from the hello reply.
    await page.reload();
    await connected(page);
    await page.waitForFunction(() => document.getElementById('usage').textContent.startsWith('$0.0250'));
    noErrors(page);
  },

  /**
   * Cards (issue 14, point 10). Before: an approval repeated its tool's card
   * (the Write's path and diff shown twice more), the card said "running…"
   * while it waited, answered approvals stayed full size, and a command's
   * output was hidden until clicked.
   */
  async cards(browser) {
    const page = await open(browser);
    await send(page, 'write cards.txt');
    await page.waitForSelector('.card.asking .approval:not(.done) button[data-decision="allow"]');
    assert.equal(await count(page, '#transcript .card'), 1, 'the approval is inside the Write card');
    assert.equal(await count(page, '#transcript .approval'), 1);
    assert.equal(await count(page, '#transcript .approval .tool-sum, #transcript .approval .diff'), 0, 'the call is not repeated');
    assert.equal(await text(page, '.card.asking .state'), 'waiting for approval');
    await shot(page, 'approval-in-card');
    await page.click('.approval button[data-decision="allow"]');
    await ended(page, 1);
    await page.waitForSelector('.approval.done');
    assert.equal(await text(page, '.approval.done .verdict'), 'Allowed once');
    const box = await page.locator('.approval.done').boundingBox();
    assert.ok(box.height < 40, `an answered approval is one line (${box.height} px)`);
    assert.equal(await text(page, '.card[data-tool="Write"] .state'), 'done');
    assert.equal(await count(page, '.card.asking'), 0);

    // A denied one says so in its card, and its approval is one line too.
    await send(page, 'write no.txt');
    await page.waitForSelector('.card.asking .approval:not(.done) button[data-decision="deny"]');
    await page.click('.card.asking .approval button[data-decision="deny"]');
    await ended(page, 2);
    assert.match(await page.locator('.card[data-tool="Write"] .approval .verdict').last().textContent(), /^Denied/);
    assert.equal(await page.locator('.card[data-tool="Write"] .state').last().textContent(), 'failed');

    // A command's output: its last lines without a click, all on request.
    await send(page, 'count');
    await ended(page, 3);
    const bash = page.locator('.card[data-tool="Bash"]');
    assert.equal(await bash.evaluate((e) => e.open), true, 'the Bash card is open');
    const tail = await bash.locator('pre.output').textContent();
    assert.deepEqual(tail.split('\n'), Array.from({ length: 8 }, (_, i) => `line ${33 + i}`));
    await bash.locator('button.more:has-text("Show all 40 lines")').click();
    assert.equal((await bash.locator('pre.output').textContent()).split('\n').length, 40);
    noErrors(page);
  },

  /** Search in the conversation and the session list's filter (issue 14, point 17). */
  async search(browser) {
    const page = await open(browser);
    await send(page, 'first apple');
    await ended(page, 1);
    await send(page, 'showcase');
    await ended(page, 2);
    await send(page, 'second APPLE pie');
    await ended(page, 3);
    await page.keyboard.press('Control+Shift+F');
    await page.waitForSelector('#searchbar:not([hidden]) #search:focus');
    await page.fill('#search', 'apple');
    // Two messages and the two replies that repeat them.
    await page.waitForFunction(() => document.getElementById('search-count').textContent === '4 of 4');
    assert.equal(await page.evaluate(() => CSS.highlights.get('search-hit').size), 4);
    await page.press('#search', 'Enter');
    assert.equal(await text(page, '#search-count'), '1 of 4', 'after the last, the first');
    await page.press('#search', 'Shift+Enter');
    assert.equal(await text(page, '#search-count'), '4 of 4');
    await page.click('#search-prev');
    assert.equal(await text(page, '#search-count'), '3 of 4');
    // A hit inside a folded thinking block unfolds it.
    assert.equal(await page.evaluate(() => document.querySelector('details.thinking').open), false);
    await page.fill('#search', 'wants a tour');
    await page.waitForFunction(() => document.getElementById('search-count').textContent === '1 of 1');
    assert.equal(await page.evaluate(() => document.querySelector('details.thinking').open), true);
    await page.fill('#search', 'nothing like this');
    await page.waitForFunction(() => document.getElementById('search-count').textContent === 'No matches');
    await page.press('#search', 'Escape');
    assert.equal(await page.isVisible('#searchbar'), false);
    assert.equal(await page.evaluate(() => CSS.highlights.has('search-hit')), false);

    // The session list's filter asks the server (every session, not a page).
    await page.click('#new-session');
    await send(page, 'banana bread');
    await ended(page, 1);
    await page.waitForFunction(() => document.querySelectorAll('#session-list li[data-id]').length === 2);
    await page.fill('#session-filter', 'BAN');
    await page.waitForFunction(() => document.querySelectorAll('#session-list li[data-id]').length === 1);
    assert.match(await text(page, '#session-list'), /banana bread/);
    await page.fill('#session-filter', 'zzz');
    await page.waitForFunction(() => /No session titled “zzz”/.test(document.getElementById('session-list').textContent));
    await page.fill('#session-filter', '');
    await page.waitForFunction(() => document.querySelectorAll('#session-list li[data-id]').length === 2);
    assert.equal(await text(page, '#title'), 'banana bread', 'the header keeps the title while filtering');
    noErrors(page);
  },

  /**
   * axe-core in the page, light and dark, with a turn of every card and an
   * approval open (issue 14, point 11). Before: the connection badge was
   * 4.31:1 and headings skipped levels. Any violation fails, with its nodes.
   */
  async a11y(browser) {
    // The page's CSP would (rightly) refuse the checker's injected script.
    const page = await open(browser, URL_, { bypassCSP: true });
    await send(page, 'showcase');
    await ended(page, 1);
    await send(page, 'write a11y.txt');
    await page.waitForSelector('.approval:not(.done) button[data-decision="allow"]');
    const axe = path.join(process.env.PW_DIR, 'axe-core', 'axe.min.js');
    await page.addScriptTag({ path: axe });
    const report = {};
    for (const theme of ['light', 'dark']) {
      await page.selectOption('#theme', theme);
      const found = await page.evaluate(async () => {
        const r = await window.axe.run(document, { resultTypes: ['violations'] });
        return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 5).map((n) => `${n.target.join(' ')}: ${n.failureSummary.split('\n').slice(1, 2).join('')}`) }));
      });
      report[theme] = found;
    }
    assert.deepEqual(report, { light: [], dark: [] }, 'axe violations');
    await page.click('.approval button[data-decision="allow"]');
    await ended(page, 2);
    noErrors(page);
  },

  /**
   * Attention while away (issue 14, point 5): the favicon's badge, and a
   * browser notification — while the tab is hidden — when an approval waits
   * and when the turn finishes; none with the page's switch off. Before:
   * waiting looked like working, and a hidden tab said nothing.
   */
  async notify(browser) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    await context.grantPermissions(['notifications']);
    // Record what the page shows (the real Notification still runs).
    await context.addInitScript(() => {
      const Real = window.Notification;
      window.shown = [];
      window.Notification = class extends Real {
        constructor(title, opts) { super(title, opts); window.shown.push({ title, body: opts?.body }); }
        static get permission() { return Real.permission; }
        static requestPermission() { return Real.requestPermission(); }
      };
    });
    const page = await open(browser, URL_, { context });
    const icon = () => page.getAttribute('link[rel="icon"]', 'data-badge');
    await send(page, 'first');
    await ended(page, 1);
    assert.deepEqual(await page.evaluate(() => window.shown), [], 'nothing while the tab is seen');
    // The tab goes to the background.
    await page.evaluate(() => {
      Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
      document.dispatchEvent(new Event('visibilitychange'));
    });
    await send(page, 'write away.txt');
    await page.waitForSelector('.approval:not(.done) button[data-decision="allow"]');
    await page.waitForFunction(() => window.shown.length === 1);
    assert.equal(await icon(), 'needs', 'the favicon says it needs you');
    assert.match(await page.getAttribute('link[rel="icon"]', 'href'), /^data:image\/svg\+xml,.*f97316/);
    await page.click('.approval button[data-decision="allow"]');
    await ended(page, 2);
    await page.waitForFunction(() => window.shown.length === 2);
    const shown = await page.evaluate(() => window.shown);
    assert.deepEqual(shown.map((n) => n.title), ['The agent needs your answer', 'The turn finished']);
    assert.equal(shown[0].body, 'first');
    assert.equal(await icon(), 'idle');
    // Off: the switch in the sidebar.
    await page.uncheck('#notify');
    await send(page, 'again');
    await ended(page, 3);
    assert.equal(await page.evaluate(() => window.shown.length), 2, 'no notification when turned off');
    noErrors(page);
  },

  /**
   * Attachments (issue 14, point 18): chosen, pasted and dropped files are
   * uploaded as chips; the message carries them; the agent (fake claude,
   * duplex) gets the image as image content and the text file inlined; the
   * sent message shows a thumbnail. Too big a file is refused on its chip.
   */
  async attach(browser) {
    const page = await open(browser);
    const png = solidPng(48, 32, [37, 99, 235]);
    await page.setInputFiles('#attach-input', [
      { name: 'shot.png', mimeType: 'image/png', buffer: png },
      { name: 'notes.md', mimeType: 'text/markdown', buffer: Buffer.from('# Notes\nthe first note\n') },
    ]);
    await page.waitForFunction(() => document.querySelectorAll('#tray .chip[data-state="ok"]').length === 2);
    // Pasted (a screenshot from the clipboard) and dropped on the page.
    await page.evaluate(() => {
      const dt = new DataTransfer();
      dt.items.add(new File(['pasted words'], 'pasted.txt', { type: 'text/plain' }));
      document.getElementById('input').dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
      const drop = new DataTransfer();
      drop.items.add(new File(['dropped'], 'dropped.txt', { type: 'text/plain' }));
      document.getElementById('main').dispatchEvent(new DragEvent('drop', { dataTransfer: drop, bubbles: true, cancelable: true }));
    });
    await page.waitForFunction(() => document.querySelectorAll('#tray .chip[data-state="ok"]').length === 4);
    await page.click('#tray .chip:has-text("dropped.txt") .remove');
    await page.waitForFunction(() => document.querySelectorAll('#tray .chip').length === 3);
    // Over the limit: refused on its chip, before any upload.
    await page.setInputFiles('#attach-input', [{ name: 'huge.log', mimeType: 'text/plain', buffer: Buffer.alloc(10 * 1024 * 1024 + 1, 120) }]);
    await page.waitForSelector('#tray .chip[data-state="err"]:has-text("over 10.0 MB")');
    await page.click('#tray .chip[data-state="err"] .remove');
    await shot(page, 'attachments');
    await send(page, 'what is in these');
    await ended(page, 1);
    assert.equal(await count(page, '#tray .chip'), 0, 'the tray is empty once sent');
    const thumb = page.locator('#transcript .item.user .sent-files img');
    await thumb.waitFor();
    // The element comes before its bytes: wait for the load (or its failure).
    await page.waitForFunction(() => {
      const i = document.querySelector('#transcript .item.user .sent-files img');
      return i && i.complete;
    });
    assert.equal(await thumb.evaluate((i) => i.naturalWidth), 48, 'the thumbnail is the image, served back');
    assert.match(await text(page, '#transcript .item.user .sent-files'), /notes\.md/);
    const said = await text(page, '#transcript .assistant');
    assert.match(said, /\[image image\/png/, 'the agent got the image');
    assert.match(said, /the first note/, 'and the text file, inlined');
    assert.match(said, /pasted words/);
    noErrors(page);
  },

  async text(browser) {
    const page = await open(browser);
    await send(page, '## Fix the **login** bug\nin `auth.rs`');
    await ended(page, 1);
    await page.waitForFunction(() => document.getElementById('title').textContent === 'Fix the login bug', null, { timeout: WAIT })
      .catch(async (e) => { throw new Error(`${e.message}: the title is ${JSON.stringify(await page.textContent('#title'))}`); });
    assert.ok(await count(page, '#transcript .assistant br') >= 1, 'the reply keeps its line break');
    await send(page, '/clear');
    await ended(page, 2);
    assert.match(await text(page, '#transcript .divider'), /Context cleared/);
    assert.doesNotMatch(await text(page), /\(no content\)/);

    // Per-message actions: copy, edit (back into the box), send again.
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(URL_).origin });
    const first = '#transcript .item.user >> nth=0';
    await page.hover(first);
    await page.click(`${first} >> button.copy`);
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), '## Fix the **login** bug\nin `auth.rs`');
    await page.hover('#transcript .assistant >> nth=0');
    await page.click('#transcript .assistant >> nth=0 >> button.copy');
    assert.match(await page.evaluate(() => navigator.clipboard.readText()), /^You said: ## Fix the \*\*login\*\* bug/);
    await page.click(`${first} >> button.edit`);
    assert.equal(await page.inputValue('#input'), '## Fix the **login** bug\nin `auth.rs`');
    await page.fill('#input', '');
    await page.click(`${first} >> button.retry`);
    await ended(page, 3);
    assert.equal(await count(page, '#transcript .bubble'), 3, 'sent again');
    // A code block's own copy button.
    const code = await page.evaluate(async () => {
      const url = performance.getEntriesByType('resource').map((e) => e.name).find((n) => /\/markdown[.-][^/]*\.js$/.test(n));
      const { renderMarkdown } = await import(url);
      const el = renderMarkdown('```rust\nfn main() {}\n```');
      document.getElementById('transcript').append(el);
      const button = el.querySelector('.codeblock button.copy');
      button.click();
      // The button says so once the clipboard has it.
      while (button.dataset.label === 'Copy') await new Promise((r) => requestAnimationFrame(r));
      el.remove();
      return navigator.clipboard.readText();
    });
    assert.equal(code, 'fn main() {}');
    // Export: the header links download the conversation.
    await page.waitForSelector('#export:not([hidden])', { timeout: WAIT });
    const md = await page.evaluate(async () => (await fetch(document.getElementById('export-md').href)).text());
    assert.match(md, /^# Fix the login bug\n/);
    assert.match(md, /\*\*You:\*\*\n\n## Fix the \*\*login\*\* bug/);
    noErrors(page);
  },

  /**
   * Keyboard and commands: `/` offers Claude Code's built-ins before the
   * first message, with descriptions, sorted and filtered as typed; the
   * picker tells assistive technology what is open and chosen; after Allow
   * or Stop the focus is back in the message box; Bypass asks first and
   * marks the header while it is on.
   */
  async keys(browser) {
    const page = await open(browser);
    // `@` alone offers the project's top level (not "No files").
    await page.fill('#input', '@');
    await page.waitForSelector('#picker .opt', { timeout: WAIT });
    assert.match(await text(page, '#picker'), /src\//);
    await page.press('#input', 'Escape');
    await page.fill('#input', '/');
    await page.waitForSelector('#picker .opt', { timeout: WAIT });
    const names = await page.locator('#picker .opt .main').allTextContents();
    assert.ok(names.includes('/clear') && names.includes('/compact') && names.includes('/cost'), names.join(' '));
    assert.deepEqual(names, [...names].sort(), 'sorted');
    assert.match(await text(page, '#picker .opt .sub'), /\w/, 'with descriptions');
    // Opening is said by a live status (a textarea may not carry aria-expanded).
    assert.match(await text(page, '#picker + [role="status"]'), /\d+ suggestions/);
    assert.equal(await page.getAttribute('#input', 'aria-activedescendant'), 'pick-0');
    await page.fill('#input', '/co');
    await page.waitForFunction(() => [...document.querySelectorAll('#picker .opt .main')].every((o) => o.textContent.includes('co')), null, { timeout: WAIT });
    assert.equal(await text(page, '#picker .opt .main'), '/compact', 'names starting with the query first');
    await page.press('#input', 'ArrowDown');
    assert.equal(await page.getAttribute('#input', 'aria-activedescendant'), 'pick-1');
    await page.fill('#input', '/zzz');
    await page.waitForFunction(() => /No command matches/.test(document.getElementById('picker').textContent), null, { timeout: WAIT });
    await page.press('#input', 'Escape');
    assert.equal(await page.getAttribute('#input', 'aria-activedescendant'), null);
    assert.equal(await page.isVisible('#picker'), false);
    await page.fill('#input', '');

    // Focus after answering and after Stop.
    await send(page, 'write k.txt');
    await page.waitForSelector('.approval button[data-decision="allow"]', { timeout: WAIT });
    await page.click('.approval button[data-decision="allow"]');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'input', 'focus returns after Allow');
    await ended(page, 1);
    // Before the agent shows anything, the transcript says it is starting;
    // the stop removes that, and scrolling up alone shows no "New output".
    await send(page, 'silent');
    await page.waitForSelector('#transcript .notice.starting', { timeout: WAIT });
    await page.click('#stop');
    await ended(page, 2);
    assert.equal(await count(page, '#transcript .notice.starting'), 0);
    await send(page, 'lines 120');
    await ended(page, 3);
    assert.ok(await page.evaluate(() => { const s = document.getElementById('scroller'); return s.scrollHeight > s.clientHeight * 2; }), 'enough to scroll');
    await page.evaluate(() => { document.getElementById('scroller').scrollTop = 0; });
    await page.waitForFunction(() => !window.sweSwe.transcript.stuck, null, { timeout: WAIT });
    assert.equal(await page.isVisible('#jump'), false, 'scrolled up, nothing new: no pill');
    await send(page, 'slow 100 100');
    await running(page);
    await page.click('#stop');
    assert.equal(await page.isVisible('#jump'), true, 'new output out of view: the pill');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'input', 'focus returns after Stop');
    await ended(page, 4);

    // Bypass asks first: declined, nothing changes; accepted, the header says so.
    page.removeAllListeners('dialog'); // open() accepts every dialog
    page.once('dialog', (d) => d.dismiss());
    await page.selectOption('#mode', 'bypassPermissions');
    assert.equal(await page.inputValue('#mode'), 'default');
    assert.equal(await page.evaluate(() => document.body.classList.contains('bypass')), false);
    page.once('dialog', (d) => d.accept());
    await page.selectOption('#mode', 'bypassPermissions');
    await page.waitForFunction(() => document.body.classList.contains('bypass'), null, { timeout: WAIT });
    noErrors(page);
  },

  /**
   * Attention across tabs: waiting for an approval is "needs you" in the
   * header, the tab title and every tab's session list (not "running");
   * a session deleted in another tab says so at once and keeps what was typed.
   */
  async attention(browser) {
    const p1 = await open(browser);
    const p2 = await open(browser);
    const x = sessionOf(p1);
    await send(p1, 'write att.txt');
    await p1.waitForSelector('#running.needs-you', { timeout: WAIT });
    assert.match(await text(p1, '#running'), /Needs you/);
    assert.ok((await p1.title()).startsWith('❗'), await p1.title());
    const row = `#session-list li[data-id="${x}"]`;
    await p2.waitForSelector(`${row} .dot.needs`, { timeout: WAIT });
    await shot(p1, 'needs-you');
    await p1.click('.approval button[data-decision="allow"]');
    await ended(p1, 1);
    await p2.waitForSelector(`${row} .dot[hidden]`, { state: 'attached', timeout: WAIT });
    assert.equal(await p1.evaluate(() => document.title.startsWith('❗')), false);

    // Deleted in the other tab.
    await p2.click(`${row} button[aria-label^="Delete"]`);
    await p1.waitForSelector('.notice.deleted', { timeout: WAIT });
    await p1.fill('#input', 'keep me');
    await p1.press('#input', 'Enter');
    assert.equal(await p1.inputValue('#input'), 'keep me', 'the typed text is kept');
    await shot(p1, 'deleted-elsewhere');
    await p1.click('.notice.deleted button');
    await p1.waitForFunction((x) => { const s = new URLSearchParams(location.search).get('s'); return s && s !== x; }, x, { timeout: WAIT });
    assert.equal(await p1.inputValue('#input'), 'keep me');
    await send(p1, 'keep me');
    await ended(p1, 1);
    noErrors(p1);
    noErrors(p2);
  },

  /** The server restarts under an open page: it comes back by itself, whole, and the conversation goes on. */
  async restart(browser) {
    const page = await open(browser);
    await send(page, 'hello before');
    await ended(page, 1);
    // A turn is running when the server restarts: it ends "interrupted",
    // which is not a user's "Stopped.".
    await send(page, 'slow 300 50');
    await running(page);
    await page.waitForFunction(() => /chunk 2/.test(document.getElementById('transcript').textContent), null, { timeout: WAIT });
    const seq = await page.evaluate(() => window.sweSwe.transcript.lastSeq);
    await control('RESTART');
    await page.waitForFunction(() => window.sweSwe.conn.opens >= 2 && document.getElementById('conn').dataset.state === 'open', null, { timeout: WAIT });
    await ended(page, 2);
    assert.match(await text(page, '#transcript .notice.interrupted'), /^Interrupted: the server was shut down during this turn\.$/);
    assert.equal(await count(page, '#transcript .notice.stopped:not(.interrupted)'), 0, 'not labelled as a user stop');
    await send(page, 'recall');
    await ended(page, 3);
    assert.match(await text(page), /Earlier you said: hello before/);
    assert.equal(await count(page, '#transcript .bubble'), 3, 'nothing shown twice');
    assert.ok(await page.evaluate(() => window.sweSwe.transcript.lastSeq) > seq);
    // A fresh tab shows exactly what the reconnected one shows.
    const fresh = await open(browser, page.url());
    await ended(fresh, 3);
    assert.equal(await text(fresh), await text(page));
    noErrors(fresh);
    // The restart itself is logged by the browser, not by the page: the
    // socket closing (1001), and any request made while the server was down
    // (the sidebar's refresh) refused. Script errors would still fail here.
    // Offline: a message sent while the server is down stays in the box,
    // says it will go when the connection is back, and goes then, once.
    await control('STOP');
    await page.waitForSelector('#conn[data-state="closed"]', { timeout: WAIT });
    await page.fill('#input', 'sent when back');
    await page.press('#input', 'Enter');
    await page.waitForSelector('#offline:not([hidden])', { timeout: WAIT });
    assert.equal(await page.inputValue('#input'), 'sent when back');
    await control('START');
    // No need to wait for the backoff (a no-op if it reconnected already).
    await page.evaluate(() => document.getElementById('retry').click());
    await ended(page, 4);
    assert.equal(await page.inputValue('#input'), '');
    assert.equal(await page.isVisible('#offline'), false);
    assert.equal(await count(page, '#transcript .bubble'), 4, 'sent once');
    assert.match(await text(page), /You said: sent when back/);
    page.errors = page.errors.filter((e) => !/WebSocket|Failed to load resource: net::ERR_CONNECTION_REFUSED/.test(e));
    noErrors(page);
  },

  /** Under --prefix-path: page, assets, API and socket all below the prefix. */
  async prefix(browser) {
    const page = await open(browser);
    assert.match(page.url(), /\/swe\/\?s=/);
    await send(page, 'hi');
    await ended(page, 1);
    assert.match(await text(page), /You said: hi/);
    assert.match(await page.evaluate(() => document.querySelector('script[type=module]').src), /\/swe\/assets\//);
    await page.waitForSelector('#session-list li[data-id]');
    noErrors(page);
  },
};

const name = process.argv[2];
if (!scenarios[name]) {
  console.error(`unknown scenario ${name}; known: ${Object.keys(scenarios).join(', ')}`);
  process.exit(2);
}
const browser = name === 'hostile' ? null : await launch();
// Chromium itself going away (its process crashed or killed) is told apart
// from the page failing a check: the harness may run such a scenario again
// on a fresh server, the page's failures never.
let closing = false;
let gone = null;
browser?.on('disconnected', () => { if (!closing) gone = 'the browser process exited'; });
try {
  await scenarios[name](browser);
  console.log(`scenario ${name}: ok`);
} catch (e) {
  console.error(`scenario ${name} failed:`, e);
  gone ??= /Target page, context or browser has been closed|Target crashed|Page crashed/.test(String(e?.message))
    ? 'a page or the browser was closed under the scenario' : null;
  if (gone) {
    console.error(`CHROMIUM_WENT_AWAY: ${gone} (chromium's own output is above, from DEBUG=pw:browser)`);
  }
  process.exitCode = gone ? 75 : 1;
} finally {
  closing = true;
  await browser?.close();
}
