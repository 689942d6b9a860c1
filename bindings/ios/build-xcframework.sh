#!/usr/bin/env bash
# Builds Livecheck.xcframework (device arm64, simulator arm64 + x86_64) from the livecheck-ffi
# staticlib, with the committed Swift bindings' C headers as its module, and lays out a Swift
# package at bindings/ios/LivecheckKit (the xcframework + bindings/swift/generated/*.swift).
#
# Needs macOS with Xcode (absent from CI, which only checks that the aarch64-apple-ios staticlib
# compiles with clang: `cargo xtask mobile`). ACTIONS_ONLY=1 builds the action SDK (no speech
# runtime: README, Mobile bindings).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=bindings/ios/build
PKG=bindings/ios/LivecheckKit
TARGETS=(aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios)
rustup target add "${TARGETS[@]}"
export IPHONEOS_DEPLOYMENT_TARGET=13.0
FEATURES=()
[ "${ACTIONS_ONLY:-0}" = 1 ] && FEATURES=(--no-default-features)
for t in "${TARGETS[@]}"; do
    cargo rustc -p livecheck-ffi --lib --release --crate-type staticlib --target "$t" "${FEATURES[@]}"
done
rm -rf "$OUT" && mkdir -p "$OUT/headers" "$OUT/sim"
# One module map for both uniffi namespaces (livecheck, livecheck_ffi).
cp bindings/swift/generated/*.h "$OUT/headers/"
cat bindings/swift/generated/*.modulemap > "$OUT/headers/module.modulemap"
lipo -create target/aarch64-apple-ios-sim/release/liblivecheck_ffi.a \
    target/x86_64-apple-ios/release/liblivecheck_ffi.a -output "$OUT/sim/liblivecheck_ffi.a"
rm -rf "$PKG/Livecheck.xcframework"
xcodebuild -create-xcframework \
    -library target/aarch64-apple-ios/release/liblivecheck_ffi.a -headers "$OUT/headers" \
    -library "$OUT/sim/liblivecheck_ffi.a" -headers "$OUT/headers" \
    -output "$PKG/Livecheck.xcframework"
mkdir -p "$PKG/Sources/Livecheck"
cp bindings/swift/generated/*.swift "$PKG/Sources/Livecheck/"
echo "built $PKG (add it to Xcode as a local Swift package)"
