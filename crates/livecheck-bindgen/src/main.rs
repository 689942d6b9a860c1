//! The uniffi bindings generator, pinned to the library's uniffi version.
//!
//! `cargo run -p livecheck-bindgen -- generate --library <path to liblivecheck_ffi.so>
//! --language kotlin --out-dir bindings/kotlin` (what `cargo xtask bindings` runs).

fn main() {
    uniffi::uniffi_bindgen_main()
}
