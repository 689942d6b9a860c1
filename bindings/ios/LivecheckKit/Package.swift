// swift-tools-version:5.9
// Swift package of livecheck for iOS apps: the XCFramework built by ../build-xcframework.sh
// (static liblivecheck_ffi + the C modules livecheckFFI and livecheck_ffiFFI) and the generated
// Swift bindings (copied into Sources/Livecheck by the same script). Both uniffi namespaces
// compile into the one Swift module `Livecheck`, as the generated code expects.
import PackageDescription

let package = Package(
    name: "LivecheckKit",
    platforms: [.iOS(.v13)],
    products: [.library(name: "Livecheck", targets: ["Livecheck"])],
    targets: [
        .binaryTarget(name: "LivecheckFFI", path: "Livecheck.xcframework"),
        .target(name: "Livecheck", dependencies: ["LivecheckFFI"], path: "Sources/Livecheck"),
    ]
)
