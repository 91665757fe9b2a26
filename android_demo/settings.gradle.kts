pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}

rootProject.name = "TinySAMDemo"

// :pipeline is pure Kotlin/JVM (no android.*), tested on the JVM against the golden vectors.
// :runtime wraps ONNX Runtime Mobile and LiteRT behind the pipeline's GraphSession interface.
// :app is the Compose UI and its ViewModel.
include(":pipeline", ":runtime", ":app")
