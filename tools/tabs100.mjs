// Point 4's check: 100 tabs on one machine against a server on default flags.
// Each tab opens its own session and runs one turn of 200 lines; prints what
// connected, was refused, ended, and the frames received. With a fake claude:
//   swe-swe --port 7842 --agent claude --claude-mode classic --claude-bin target/release/fake-agent &
//   node --experimental-websocket tools/tabs100.mjs ws://127.0.0.1:7842/ws
// then VmHWM from /proc/PID/status and CPU ticks over 5 idle seconds.
const url = process.argv[2]; const N = 100;
let connected = 0, refused = 0, ended = 0, frames = 0;
const done = new Promise(resolve => {
  for (let i = 0; i < N; i++) {
    const ws = new WebSocket(url);
    ws.onopen = () => { connected++; ws.send(JSON.stringify({type: 'hello', session: `tab-${i}-${Date.now()}`}));
      ws.send(JSON.stringify({type: 'message', content: 'lines 200 100'})); };
    ws.onerror = () => { refused++; if (connected + refused === N && ended + refused === N) resolve(); };
    ws.onmessage = (m) => { frames++; const f = JSON.parse(m.data);
      if (f.type === 'claudejson' && f.content.includes('"type":"result"')) { ended++; ws.close(); if (ended + refused === N) resolve(); } };
  }
});
const t = setTimeout(() => { console.log('timeout'); process.exit(1); }, 120000);
await done; clearTimeout(t);
console.log(JSON.stringify({connected, refused, ended, frames}));
