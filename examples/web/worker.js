// The engine's thread: loads the wasm build and the models once, then runs one session at a
// time for the page. Requests are {id, type, ...}; every answer is {id, ok, value | error}.
import init, { Engine, version } from './pkg/livecheck_wasm.js';

let engine = null;
let session = null;

// Fetches one model listed in models/manifest.json and checks its sha256.
async function fetchModel(entry) {
  const response = await fetch(`models/${entry.file}`);
  if (!response.ok) throw new Error(`models/${entry.file}: HTTP ${response.status}`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  const hex = Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
  if (hex !== entry.sha256) throw new Error(`models/${entry.file}: sha256 ${hex}, expected ${entry.sha256}`);
  return bytes;
}

const ready = (async () => {
  const t0 = performance.now();
  await init();
  const manifest = await (await fetch('models/manifest.json')).json();
  const models = {};
  for (const [role, entry] of Object.entries(manifest.models)) {
    if (role === 'digits') {
      models.digits = {};
      for (const [part, e] of Object.entries(entry)) models.digits[part] = await fetchModel(e);
    } else {
      models[role] = await fetchModel(entry);
    }
  }
  const fetched = performance.now();
  engine = Engine.fromBytes(models);
  const loaded = performance.now();
  return {
    version: version(),
    digits: 'digits' in manifest.models,
    fetchMs: fetched - t0,
    loadMs: loaded - fetched,
  };
})();

// Times Session.pushFrame over the frames in bench/ (raw RGBA, written by `cargo xtask web
// --bench`), a fresh blink session per pass, as the native criterion bench does.
async function bench(passes) {
  const meta = await (await fetch('bench/frames.json')).json();
  const all = new Uint8Array(await (await fetch('bench/frames.rgba')).arrayBuffer());
  const size = meta.width * meta.height * 4;
  const perPass = [];
  for (let p = 0; p < passes; p++) {
    const s = engine.newSession({ actions: ['blink'], seed: 0 });
    const t0 = performance.now();
    for (let i = 0; i < meta.t_ms.length; i++) {
      s.pushFrame(all.subarray(i * size, (i + 1) * size), meta.width, meta.height, meta.t_ms[i]);
    }
    perPass.push((performance.now() - t0) / meta.t_ms.length);
    s.free();
  }
  perPass.sort((a, b) => a - b);
  return { frames: meta.t_ms.length, passes, perFrameMs: perPass[Math.floor(passes / 2)], perPass };
}

async function handle(request) {
  const info = await ready;
  switch (request.type) {
    case 'ready':
      return info;
    case 'start': {
      if (session) session.free();
      session = engine.newSession(request.options);
      return { challenge: session.challenge(), oval: session.oval() };
    }
    case 'frame': {
      const t0 = performance.now();
      const feedback = session.pushFrame(request.rgba, request.width, request.height, request.t);
      feedback.cost_ms = performance.now() - t0;
      return feedback;
    }
    case 'audio':
      session.pushAudio(request.pcm, request.rate, request.t);
      return null;
    case 'finish': {
      const verdict = session.finish();
      session.free();
      session = null;
      return verdict;
    }
    case 'bench':
      return bench(request.passes || 5);
    default:
      throw new Error(`unknown request ${request.type}`);
  }
}

self.onmessage = async (event) => {
  const { id } = event.data;
  try {
    const value = await handle(event.data);
    self.postMessage({ id, ok: true, value });
  } catch (e) {
    self.postMessage({ id, ok: false, error: { name: e.name, code: e.code, message: String(e.message ?? e) } });
  }
};
