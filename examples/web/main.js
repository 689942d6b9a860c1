// The page: camera (and microphone for the digits challenge), the oval and the prompt drawn
// over the preview, the verdict. The engine runs in worker.js so the page stays responsive.
//
// URL parameters (all optional): mode=actions|digits, actions=blink,nod, seed=N, lang=zh|en,
// auto=1 (start at once, no click), report=1 (POST the outcome to /result: the headless test),
// bench=N (time N passes over bench/ frames and report them; no camera).
const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);
const video = $('video');
const overlay = $('overlay');
const grab = document.createElement('canvas');
const grabContext = grab.getContext('2d', { willReadFrequently: true });

// Requests to the worker, answered by id.
const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
const pending = new Map();
let nextId = 1;
worker.onmessage = ({ data }) => {
  const { resolve, reject } = pending.get(data.id);
  pending.delete(data.id);
  if (data.ok) resolve(data.value);
  else reject(Object.assign(new Error(data.error.message), data.error));
};
function call(type, fields = {}, transfer = []) {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    worker.postMessage({ id, type, ...fields }, transfer);
  });
}

// What the page reports at the end (and POSTs with report=1).
const outcome = { ready: null, frames: 0, costs: [], errors: [], firstFeedbackMs: null };
const pageStart = performance.now();

function status(text) { $('status').textContent = text; }

async function report(extra) {
  Object.assign(outcome, extra);
  if (params.get('report') === '1') {
    await fetch('/result', { method: 'POST', body: JSON.stringify(outcome) });
  }
}

let stream = null;
let audio = null;
let running = false;
let busy = false;
let oval = null;

function drawOverlay(feedback) {
  const w = overlay.width, h = overlay.height;
  const g = overlay.getContext('2d');
  g.clearRect(0, 0, w, h);
  if (!oval) return;
  // The engine's oval: centre in fractions of the frame, height of its shorter side.
  const ry = (oval.height * Math.min(w, h)) / 2;
  g.lineWidth = Math.max(4, w / 120);
  g.strokeStyle = feedback && feedback.in_oval ? '#3ddc84' : '#ffffff';
  g.beginPath();
  g.ellipse(oval.cx * w, oval.cy * h, ry * oval.aspect, ry, 0, 0, 2 * Math.PI);
  g.stroke();
  if (feedback && feedback.face_box) {
    const [x0, y0, x1, y1] = feedback.face_box;
    g.lineWidth = 2;
    g.strokeStyle = 'rgba(255, 210, 0, 0.7)';
    g.strokeRect(x0, y0, x1 - x0, y1 - y0);
  }
}

function show(feedback) {
  $('prompt').textContent = feedback.prompt_zh;
  $('prompt-en').textContent = feedback.prompt_en;
  $('progress').value = feedback.progress;
  drawOverlay(feedback);
}

async function finish() {
  running = false;
  const verdict = await call('finish');
  if (stream) stream.getTracks().forEach((t) => t.stop());
  if (audio) audio.close();
  const box = $('verdict');
  box.hidden = false;
  box.className = verdict.passed ? 'passed' : 'failed';
  box.textContent = verdict.passed
    ? '认证通过 Passed'
    : `认证未通过 Failed: ${verdict.reasons.join(', ')}`;
  $('start').disabled = false;
  const sorted = [...outcome.costs].sort((a, b) => a - b);
  await report({
    verdict: { ...verdict, best_frame_jpeg: verdict.best_frame_jpeg ? verdict.best_frame_jpeg.length : null },
    medianCostMs: sorted.length ? sorted[Math.floor(sorted.length / 2)] : null,
  });
}

// One camera frame to the engine, unless it is still busy with the previous one (frames
// are dropped, never queued: the feedback stays current on slow phones).
function onFrame(now) {
  if (!running) return;
  if (!busy && video.videoWidth > 0) {
    busy = true;
    const w = video.videoWidth, h = video.videoHeight;
    if (grab.width !== w || grab.height !== h) {
      grab.width = overlay.width = w;
      grab.height = overlay.height = h;
    }
    grabContext.drawImage(video, 0, 0, w, h);
    const image = grabContext.getImageData(0, 0, w, h);
    call('frame', { rgba: image.data, width: w, height: h, t: now }, [image.data.buffer])
      .then((feedback) => {
        busy = false;
        outcome.frames += 1;
        outcome.costs.push(feedback.cost_ms);
        if (outcome.firstFeedbackMs === null) outcome.firstFeedbackMs = performance.now() - pageStart;
        show(feedback);
        if (feedback.done && running) finish();
      })
      .catch((e) => {
        busy = false;
        outcome.errors.push(`${e.code}: ${e.message}`);
        status(`${e.code}: ${e.message}`);
      });
  }
  nextFrame();
}

function nextFrame() {
  if ('requestVideoFrameCallback' in video) video.requestVideoFrameCallback((now) => onFrame(now));
  else requestAnimationFrame((now) => onFrame(now));
}

// Microphone samples to the engine on the frames' clock (performance.now()).
async function startAudio() {
  audio = new AudioContext();
  await audio.audioWorklet.addModule('audio-worklet.js');
  const tap = new AudioWorkletNode(audio, 'pcm-tap');
  audio.createMediaStreamSource(stream).connect(tap);
  const stamp = audio.getOutputTimestamp();
  const offset = stamp.performanceTime - stamp.contextTime * 1000;
  tap.port.onmessage = ({ data }) => {
    if (!running) return;
    call('audio', { pcm: data.pcm, rate: audio.sampleRate, t: offset + data.time * 1000 }, [data.pcm.buffer])
      .catch((e) => outcome.errors.push(`${e.code}: ${e.message}`));
  };
}

async function start(mode) {
  $('verdict').hidden = true;
  $('start').disabled = true;
  const options = { seed: Number(params.get('seed') ?? Math.floor(Math.random() * 2 ** 32)) };
  if (mode === 'digits') options.digitsLanguage = params.get('lang') ?? 'zh';
  else if (params.get('actions')) options.actions = params.get('actions').split(',');
  const started = await call('start', { options });
  oval = started.oval;
  outcome.challenge = started.challenge;
  $('digits').hidden = mode !== 'digits';
  if (mode === 'digits') $('digits').textContent = started.challenge;
  stream = await navigator.mediaDevices.getUserMedia({
    video: { facingMode: 'user', width: { ideal: 640 }, height: { ideal: 480 } },
    audio: mode === 'digits',
  });
  video.srcObject = stream;
  await video.play();
  running = true;
  if (mode === 'digits') await startAudio();
  nextFrame();
  setTimeout(() => {
    if (running && outcome.frames === 0) fail(new Error('no camera frame reached the engine in 30 s'));
  }, 30000);
}

async function main() {
  try {
    outcome.ready = await call('ready');
    status(`livecheck ${outcome.ready.version} · models ${outcome.ready.fetchMs.toFixed(0)} ms · engine ${outcome.ready.loadMs.toFixed(0)} ms`);
    if (!outcome.ready.digits) $('controls').mode[1].disabled = true;
    $('prompt').textContent = '请将脸放入框内';
    $('prompt-en').textContent = 'Put your face in the oval';
    if (params.get('bench')) {
      const result = await call('bench', { passes: Number(params.get('bench')) });
      status(`${result.perFrameMs.toFixed(1)} ms per frame (${result.frames} frames)`);
      await report({ bench: result });
      return;
    }
    $('start').disabled = false;
    $('controls').onsubmit = (e) => {
      e.preventDefault();
      start($('controls').mode.value).catch(fail);
    };
    if (params.get('auto') === '1') await start(params.get('mode') ?? 'actions');
  } catch (e) {
    fail(e);
  }
}

function fail(e) {
  running = false;
  status(`${e.code ?? e.name}: ${e.message}`);
  report({ fatal: `${e.code ?? e.name}: ${e.message}` });
}

main();
