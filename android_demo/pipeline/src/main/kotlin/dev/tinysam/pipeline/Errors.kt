package dev.tinysam.pipeline

/** Base of the pipeline's errors; mirrors `tinysam_mobile.errors.TinySamError`. */
open class TinySamException(message: String, cause: Throwable? = null) : Exception(message, cause)

/** A bad image (empty, wrong channel count). Mirrors `ImageError`. */
class ImageException(message: String) : TinySamException(message)

/** A bad prompt (outside the image, NaN, inverted box, unknown label). Mirrors `PromptError`. */
class PromptException(message: String) : TinySamException(message)

/** A bundle whose files are missing or do not match the manifest. Mirrors `BundleError`. */
class BundleException(message: String, cause: Throwable? = null) : TinySamException(message, cause)

/** A manifest that cannot be parsed or misses a key. Mirrors `ManifestError`. */
class ManifestException(message: String, cause: Throwable? = null) : TinySamException(message, cause)
