import org.gradle.api.GradleException
import groovy.json.JsonSlurper

// The demo app: Compose UI + ViewModel over the :runtime and :pipeline modules.
plugins {
    alias(libs.plugins.android.application)
    alias(libs.plugins.kotlin.android)
    alias(libs.plugins.kotlin.compose)
}

android {
    namespace = "dev.tinysam.demo"
    compileSdk = 35

    defaultConfig {
        applicationId = "dev.tinysam.demo"
        minSdk = 26
        targetSdk = 35
        versionCode = 1
        versionName = "0.1.0"
        testInstrumentationRunner = "androidx.test.runner.AndroidJUnitRunner"
    }

    // The on-phone benchmark runs against the (non-debuggable) release build:
    //   ./gradlew -Ptinysam.testBuildType=release :app:connectedReleaseAndroidTest
    testBuildType = providers.gradleProperty("tinysam.testBuildType").getOrElse("debug")

    buildTypes {
        release {
            isMinifyEnabled = false
            // A demo: release builds are signed with the debug key so they install without setup.
            signingConfig = signingConfigs.getByName("debug")
        }
    }
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    buildFeatures {
        compose = true
    }
    androidResources {
        // Model files are read as raw bytes; compressing them only slows start-up.
        noCompress += listOf("ort", "onnx", "tflite")
    }
    sourceSets["main"].assets.srcDir(layout.buildDirectory.dir("generated/tinysam-assets"))
}

kotlin {
    jvmToolchain(17)
}

dependencies {
    implementation(project(":runtime"))
    implementation(libs.androidx.core.ktx)
    implementation(libs.androidx.activity.compose)
    implementation(libs.androidx.lifecycle.viewmodel.compose)
    implementation(libs.androidx.lifecycle.runtime.compose)
    implementation(libs.kotlinx.coroutines.android)
    implementation(platform(libs.compose.bom))
    implementation(libs.compose.ui)
    implementation(libs.compose.foundation)
    implementation(libs.compose.material3)
    implementation(libs.compose.ui.tooling.preview)
    debugImplementation(libs.compose.ui.tooling)
    androidTestImplementation(libs.androidx.test.runner)
    androidTestImplementation(libs.androidx.test.ext.junit)
}

/*
 * Models are never committed. This task copies a bundle written by `tinysam-export` (e.g.
 * `tinysam-export --target all --checkpoint tinysam_42.3.pth --out ../bundle`) into the app's
 * generated assets (assets/tinysam/...): manifest.json, then every artifact the manifest lists for
 * the Android targets (onnx, tflite), whatever their precisions (`--target all`: onnx fp32 + int8,
 * tflite int8), and, for ONNX artifacts, the ORT-format sibling the exporter writes
 * (onnx/ort/<stem>.ort), which the runtime prefers. File names, targets and precisions are read
 * from manifest.json, never typed here; the app offers the pairs it finds there. The task re-runs
 * when manifest.json changes (every artifact's sha256 is in it).
 *
 *   ./gradlew :app:copyTinySamModels -Ptinysam.bundleDir=/path/to/bundle
 */
val copyTinySamModels by tasks.registering {
    group = "tinysam"
    description = "Copy the models named in <bundle>/manifest.json into the app's assets."
    val androidTargets = listOf("onnx", "tflite")
    val bundleDir = providers.gradleProperty("tinysam.bundleDir").map { rootProject.file(it) }
    val outDir = layout.buildDirectory.dir("generated/tinysam-assets/tinysam")
    inputs.property("bundleDir", bundleDir.map { it.absolutePath }.orElse(""))
    inputs.files(bundleDir.map { listOf(it.resolve("manifest.json")) }.orElse(emptyList<File>()))
        .withPropertyName("manifest")
    outputs.dir(outDir)
    doLast {
        val bundle = bundleDir.orNull
            ?: throw GradleException("set -Ptinysam.bundleDir=/path/to/bundle (a folder written by tinysam-export)")
        val manifestFile = bundle.resolve("manifest.json")
        if (!manifestFile.isFile) {
            throw GradleException("$manifestFile is missing: run `tinysam-export --target all --out $bundle` first")
        }
        @Suppress("UNCHECKED_CAST")
        val manifest = JsonSlurper().parse(manifestFile) as Map<String, Any?>
        @Suppress("UNCHECKED_CAST")
        val artifacts = manifest["artifacts"] as? List<Map<String, Any?>>
            ?: throw GradleException("$manifestFile has no 'artifacts' list")
        val files = mutableListOf("manifest.json")
        val graphsOf = sortedMapOf<String, MutableSet<String>>()  // "target precision" -> graphs
        for (a in artifacts) {
            val target = a["target"] as String
            if (target !in androidTargets) continue
            val file = a["file"] as String
            files += file
            graphsOf.getOrPut("$target ${a["precision"]}") { sortedSetOf() }.add(a["graph"] as String)
            if (target == "onnx") {
                val ort = "onnx/ort/" + file.substringAfterLast('/').removeSuffix(".onnx") + ".ort"
                if (bundle.resolve(ort).isFile) files += ort
            }
        }
        val pairs = graphsOf.filterValues { it.containsAll(listOf("encoder", "decoder")) }.keys
        if (pairs.isEmpty()) {
            val has = artifacts.map { "${it["target"]} ${it["precision"]}" }.distinct().joinToString()
            throw GradleException(
                "$manifestFile has no onnx or tflite encoder + decoder pair (it has: ${has.ifEmpty { "none" }}); " +
                    "export with `tinysam-export --target all` (or --target onnx / --target tflite)",
            )
        }
        val out = outDir.get().asFile
        out.deleteRecursively()
        for (rel in files) {
            val src = bundle.resolve(rel)
            if (!src.isFile) throw GradleException("$src is listed in the manifest but missing")
            src.copyTo(out.resolve(rel), overwrite = true)
        }
        logger.lifecycle("copied ${files.size} files from $bundle into ${out.relativeTo(projectDir)}; the app offers: ${pairs.joinToString()}")
    }
}

tasks.named("preBuild") { dependsOn(copyTinySamModels) }
