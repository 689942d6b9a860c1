// Gradle build of the livecheck Android library (AAR) and the CameraX sample app.
// `build-aar.sh` fills livecheck/src/main/{jniLibs,kotlin/generated,assets} first.
pluginManagement {
    repositories { google(); mavenCentral(); gradlePluginPortal() }
}
dependencyResolutionManagement {
    repositories { google(); mavenCentral() }
}
rootProject.name = "livecheck-android"
include(":livecheck", ":sample")
