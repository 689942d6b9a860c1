#!/usr/bin/env bash
# Builds the Android library (AAR) of livecheck: the cdylib for each ABI with cargo-ndk, the
# Kotlin bindings, packaged by Gradle from bindings/android/livecheck.
#
# Needs (absent from CI, which only checks that the arm64 staticlib compiles: `cargo xtask
# mobile`): the Android NDK (ANDROID_NDK_HOME), cargo-ndk (`cargo install cargo-ndk`), the
# Rust Android targets, a JDK and the Android SDK for Gradle. Output:
#   bindings/android/livecheck/build/outputs/aar/livecheck-release.aar
# ACTIONS_ONLY=1 builds the action SDK instead (no speech runtime, no digits pack: README,
# Mobile bindings).
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${ANDROID_NDK_HOME:?set ANDROID_NDK_HOME to the Android NDK}"
ABIS=(arm64-v8a armeabi-v7a x86_64)
MODULE=bindings/android/livecheck
rustup target add aarch64-linux-android armv7-linux-androideabi x86_64-linux-android
command -v cargo-ndk >/dev/null || cargo install cargo-ndk --locked
# minSdk 24 (Android 7): CameraX and the e-social-security apps' floor.
FEATURES=()
[ "${ACTIONS_ONLY:-0}" = 1 ] && FEATURES=(--no-default-features)
cargo ndk --platform 24 $(printf -- '-t %s ' "${ABIS[@]}") \
    -o "$MODULE/src/main/jniLibs" build -p livecheck-ffi --profile sdk --lib "${FEATURES[@]}"
# Kotlin bindings from the host build of the same sources (library mode reads its metadata).
cargo xtask bindings
rm -rf "$MODULE/src/main/kotlin/generated" && mkdir -p "$MODULE/src/main/kotlin/generated"
cp -r bindings/kotlin/generated/. "$MODULE/src/main/kotlin/generated/"
# The models ship as app assets: LivenessEngine.fromBytes(...) reads them from AssetManager.
mkdir -p "$MODULE/src/main/assets/models"
cp models/face_detection_short_range.onnx models/face_landmark.onnx models/iris_landmark.onnx \
    models/mobilefacenet.onnx "$MODULE/src/main/assets/models/"
if [ "${ACTIONS_ONLY:-0}" != 1 ]; then
    # The digits pack (94 MB): many hosts download it on demand instead of bundling it.
    cp models/silero_vad_16k.onnx models/whisper_encoder_base_6s.onnx \
        models/whisper_decoder_base_digits.onnx models/digits.onnx "$MODULE/src/main/assets/models/"
fi
(cd bindings/android && ./gradlew :livecheck:assembleRelease 2>/dev/null || gradle :livecheck:assembleRelease)
ls -l "$MODULE/build/outputs/aar/"
