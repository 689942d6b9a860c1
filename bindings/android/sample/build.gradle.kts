plugins {
    id("com.android.application")
    id("org.jetbrains.kotlin.android")
}

android {
    namespace = "cn.livecheck.sample"
    compileSdk = 35
    defaultConfig {
        applicationId = "cn.livecheck.sample"
        minSdk = 24
        targetSdk = 35
    }
}

dependencies {
    implementation(project(":livecheck"))
    val camerax = "1.4.1"
    implementation("androidx.camera:camera-camera2:$camerax")
    implementation("androidx.camera:camera-lifecycle:$camerax")
    implementation("androidx.camera:camera-view:$camerax")
    implementation("androidx.appcompat:appcompat:1.7.0")
}
