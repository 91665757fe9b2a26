// Pure Kotlin/JVM: the pre/post-processing and everything-mode steps of the Python runtime.
// No android.* imports, so the unit tests run on a plain JVM against the golden vectors.
plugins {
    alias(libs.plugins.kotlin.jvm)
}

kotlin {
    jvmToolchain(17)
}

dependencies {
    // Android provides org.json at run time; the JVM tests use the same implementation.
    compileOnly(libs.android.json)
    testImplementation(libs.android.json)
    testImplementation(libs.junit.jupiter)
    testRuntimeOnly(libs.junit.platform.launcher)
}

tasks.test {
    useJUnitPlatform()
    // Golden folder written by the Python golden writer (see android_demo/README.md):
    //   ./gradlew :pipeline:test -Ptinysam.goldenDir=/path/to/golden
    val goldenDir = providers.gradleProperty("tinysam.goldenDir")
        .orElse(providers.environmentVariable("TINYSAM_GOLDEN_DIR"))
    if (goldenDir.isPresent) systemProperty("tinysam.goldenDir", goldenDir.get())
}
