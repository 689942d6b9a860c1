"""Cost of the C ABI as Python sees it (ctypes: the slowest host), next to a whole frame.

    cargo xtask bindings && cargo build -p livecheck-ffi --release
    python3 bindings/python/bench_boundary.py --lib target/release/liblivecheck_ffi.so

Times engine construction (from_dir, from_bytes), push_frame on a real 640x480 NV21 frame
(models run), and the boundary alone: push_frame on a finished session (no models run; the
bytes go down as pointer + length, the Feedback record comes back serialised) and phase().
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

ap = argparse.ArgumentParser()
ap.add_argument("--lib", help="cdylib to load instead of the generated package's debug build")
args = ap.parse_args()
package = ROOT / "bindings/python/generated/livecheck"
if args.lib:
    tmp = Path(tempfile.mkdtemp())
    shutil.copytree(package, tmp / "livecheck", symlinks=False,
                    ignore=shutil.ignore_patterns("*.so", "*.dylib", "*.dll"))
    os.symlink(Path(args.lib).resolve(), tmp / "livecheck" / "liblivecheck_ffi.so")
    sys.path.insert(0, str(tmp))
else:
    sys.path.insert(0, str(package.parent))
import livecheck as lc  # noqa: E402

models = ROOT / "models"
t0 = time.perf_counter()
eng = lc.LivenessEngine.from_dir(str(models))
print(f"LivenessEngine.from_dir   {(time.perf_counter() - t0) * 1e3:7.0f} ms")
read = lambda n: (models / n).read_bytes()  # noqa: E731
t0 = time.perf_counter()
lc.LivenessEngine.from_bytes(read("face_detection_short_range.onnx"), read("face_landmark.onnx"),
                             read("iris_landmark.onnx"), None)
print(f"LivenessEngine.from_bytes {(time.perf_counter() - t0) * 1e3:7.0f} ms")

clip = ROOT.parent / "shared/data/focus_blink/h264/mahie_test_1.mp4"
raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(clip), "-frames:v", "1", "-f", "rawvideo",
                      "-pix_fmt", "nv21", "-"], capture_output=True, check=True).stdout
w, h = 640, 480
assert len(raw) == w * h * 3 // 2, "expected a 640x480 frame"


def push(session, t):
    return session.push_frame(raw, w, h, w, lc.PixelFormat.NV21, 0, False, t)


s, t = eng.new_session(lc.SessionOptions(action_timeout_ms=10**12)), 0
for _ in range(20):
    t += 33
    push(s, t)
n, t0 = 200, time.perf_counter()
for _ in range(n):
    t += 33
    push(s, t)
print(f"push_frame, models run    {(time.perf_counter() - t0) / n * 1e3:7.2f} ms/frame")

d, t = eng.new_session(lc.SessionOptions(action_timeout_ms=1)), 0
while True:
    t += 33
    if push(d, t).done:
        break
n, t0 = 20000, time.perf_counter()
for _ in range(n):
    t += 33
    push(d, t)
print(f"push_frame, boundary only {(time.perf_counter() - t0) / n * 1e6:7.1f} us/call")
n, t0 = 20000, time.perf_counter()
for _ in range(n):
    d.phase()
print(f"phase(), boundary only    {(time.perf_counter() - t0) / n * 1e6:7.1f} us/call")
