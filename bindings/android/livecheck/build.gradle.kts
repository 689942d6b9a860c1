// The AAR: generated Kotlin bindings + liblivecheck_ffi.so per ABI + the models as assets.
plugins {
    id("com.android.library")
    id("org.jetbrains.kotlin.android")
}

android {
    namespace = "cn.livecheck"
    compileSdk = 35
    defaultConfig { minSdk = 24 }
    sourceSets["main"].kotlin.srcDir("src/main/kotlin/generated")
    // ONNX models are already compressed poorly by zip and are read whole: keep them stored.
    androidResources { noCompress += "onnx" }
}

dependencies {
    // uniffi's Kotlin calls the cdylib through JNA (the @aar variant ships its native parts).
    implementation("net.java.dev.jna:jna:5.15.0@aar")
}
