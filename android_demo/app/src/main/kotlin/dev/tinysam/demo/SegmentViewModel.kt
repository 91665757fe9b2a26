package dev.tinysam.demo

import android.app.Application
import android.graphics.Bitmap
import android.net.Uri
import androidx.lifecycle.AndroidViewModel
import androidx.lifecycle.viewModelScope
import dev.tinysam.pipeline.ImageU8
import dev.tinysam.pipeline.PointLabel
import dev.tinysam.pipeline.Predictor
import dev.tinysam.pipeline.PromptBox
import dev.tinysam.pipeline.PromptPoint
import dev.tinysam.pipeline.TinySamException
import dev.tinysam.pipeline.everything.EverythingConfig
import dev.tinysam.pipeline.everything.EverythingMode
import dev.tinysam.pipeline.everything.EverythingResult
import dev.tinysam.pipeline.everything.Hierarchical
import dev.tinysam.runtime.AssetBundleSource
import dev.tinysam.runtime.Backend
import dev.tinysam.runtime.BundleLoader
import dev.tinysam.runtime.SessionOptions
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import kotlin.coroutines.cancellation.CancellationException

/**
 * The app's state machine: opens the bundle from the assets, encodes each image once
 * (`Predictor.setImage`), decodes on every prompt change (`Predictor.predict`), runs hierarchical
 * everything mode with progress, and re-opens the graphs when the backend or precision changes.
 * All model work runs on [Dispatchers.Default]; a new request cancels the previous one.
 */
class SegmentViewModel(application: Application) : AndroidViewModel(application) {
    private val source = AssetBundleSource(application.assets)
    private val _state = MutableStateFlow(SegmentUiState())
    val state: StateFlow<SegmentUiState> = _state.asStateFlow()

    private var predictor: Predictor? = null
    private var rgb: ImageU8? = null
    private var job: Job? = null

    /** Everything-mode settings of the app: TinySAM's hierarchical defaults. */
    val everythingConfig = EverythingConfig(mode = EverythingMode.HIERARCHICAL)

    init {
        launchWork("Opening models") {
            // The (target, precision) pairs come from manifest.json: whatever the export wrote
            // (`--target all`: ONNX fp32 + int8, TFLite int8). The first opened is the int8 one when
            // the bundle has it (the exporter's default for phones), else the smallest precision.
            val manifest = source.manifest()
            val targets = Backend.entries.map { it.target }
            val variants = manifest.variantsFor(targets).map { (t, p) -> ModelVariant(Backend.forTarget(t), p) }
            val first = manifest.defaultVariant(targets)?.let { (t, p) -> ModelVariant(Backend.forTarget(t), p) }
                ?: throw TinySamException(
                    "the bundle in the assets has no ONNX or TFLite graph pair (it has: " +
                        manifest.availableVariants().joinToString { "${it.first.key} ${it.second.key}" }.ifEmpty { "none" } +
                        "); export with `tinysam-export --target all` and rebuild",
                )
            _state.update { it.copy(variants = variants) }
            openVariant(first)
        }
    }

    private suspend fun openVariant(v: ModelVariant) {
        val opened = withContext(Dispatchers.Default) {
            BundleLoader.openPredictor(source, SessionOptions(v.backend, v.precision, threads = Runtime.getRuntime().availableProcessors().coerceAtMost(4)))
        }
        predictor?.close()
        predictor = opened.first
        _state.update { it.copy(variant = v, overlay = null, everythingMasks = null) }
        rgb?.let { encode(it) }
    }

    /** Switch backend / precision; the current image is encoded again with the new graphs. */
    fun selectVariant(v: ModelVariant) {
        if (v == _state.value.variant) return
        launchWork("Opening ${v.label}") { openVariant(v) }
    }

    fun selectTool(tool: PromptTool) = _state.update { it.copy(tool = tool) }

    /** A picked or captured photo (content:// URI), upright, longest side at most [ImageConversions.MAX_SIDE]. */
    fun loadImage(uri: Uri) {
        launchWork("Decoding image") {
            val bitmap = withContext(Dispatchers.IO) {
                ImageConversions.decodePhoto(getApplication<Application>().contentResolver, uri)
            }
            setBitmap(bitmap)
        }
    }

    private suspend fun setBitmap(bitmap: Bitmap) {
        val argb = if (bitmap.config == Bitmap.Config.ARGB_8888) bitmap else bitmap.copy(Bitmap.Config.ARGB_8888, false)
        val image = withContext(Dispatchers.Default) { ImageConversions.toImageU8(argb) }
        rgb = image
        _state.update { it.copy(image = argb, points = emptyList(), box = null, overlay = null, maskScore = null, everythingMasks = null) }
        encode(image)
    }

    /** Encoder once per image. */
    private suspend fun encode(image: ImageU8) {
        val p = predictor ?: return
        _state.update { it.copy(busy = "Encoding image") }
        val ms = withContext(Dispatchers.Default) { timed { p.setImage(image) } }
        recordLatency(Stage.ENCODER, ms)
        if (_state.value.points.isNotEmpty() || _state.value.box != null) decode()
    }

    /** A tap at image pixel (x, y) with the current point tool. */
    fun onTap(x: Double, y: Double) {
        val label = when (_state.value.tool) {
            PromptTool.POSITIVE_POINT -> PointLabel.FOREGROUND
            PromptTool.NEGATIVE_POINT -> PointLabel.BACKGROUND
            PromptTool.BOX -> return
        }
        _state.update { it.copy(points = it.points + PromptPoint(x, y, label), everythingMasks = null) }
        launchWork(null) { decode() }
    }

    /** A box dragged from (x0, y0) to (x1, y1), image pixels, any corner order. */
    fun onBox(x0: Double, y0: Double, x1: Double, y1: Double) {
        val box = PromptBox(minOf(x0, x1), minOf(y0, y1), maxOf(x0, x1), maxOf(y0, y1))
        _state.update { it.copy(box = box, everythingMasks = null) }
        launchWork(null) { decode() }
    }

    fun clearPrompts() {
        job?.cancel()
        _state.update { it.copy(points = emptyList(), box = null, overlay = null, maskScore = null, everythingMasks = null) }
    }

    /** Decoder per prompt change: best of the three multimask outputs. */
    private suspend fun decode() {
        val p = predictor ?: return
        val s = _state.value
        if (!p.isImageSet || (s.points.isEmpty() && s.box == null)) return
        var overlay: Bitmap? = null
        var score = 0f
        val ms = withContext(Dispatchers.Default) {
            timed {
                val r = p.predict(s.points, s.box)
                val best = r.bestIndex
                val plane = p.originalHw.height * p.originalHw.width
                val mask = r.masks.data.copyOfRange(best * plane, (best + 1) * plane)
                overlay = ImageConversions.maskOverlay(mask, p.originalHw)
                score = r.iou[best]
            }
        }
        _state.update { it.copy(overlay = overlay, maskScore = score) }
        recordLatency(Stage.DECODER, ms)
    }

    /** Hierarchical everything mode with a progress indicator. */
    fun runEverything() {
        val p = predictor ?: return
        if (!p.isImageSet) return
        _state.update { it.copy(points = emptyList(), box = null, overlay = null, maskScore = null) }
        launchWork("Segmenting everything") {
            var result: EverythingResult? = null
            val ms = withContext(Dispatchers.Default) {
                timed {
                    result = Hierarchical.generateEverything(p, everythingConfig) { batch ->
                        val done = batch.start + batch.pointCoords.shape[0]
                        _state.update { it.copy(progress = EverythingProgress(batch.pass, done, batch.totalPrompts)) }
                    }
                }
            }
            val r = result ?: return@launchWork
            val overlay = withContext(Dispatchers.Default) { ImageConversions.everythingOverlay(r.rles, r.originalHw) }
            _state.update { it.copy(overlay = overlay, everythingMasks = r.rles.size, progress = null) }
            recordLatency(Stage.EVERYTHING, ms)
        }
    }

    fun dismissError() = _state.update { it.copy(error = null) }

    private fun recordLatency(stage: Stage, ms: Double) = _state.update { it.copy(latenciesMs = it.latenciesMs + (stage to ms)) }

    private inline fun timed(block: () -> Unit): Double {
        val t0 = System.nanoTime()
        block()
        return (System.nanoTime() - t0) / 1e6
    }

    /** Run [work] after cancelling the previous request; errors end up in the state. */
    private fun launchWork(busy: String?, work: suspend () -> Unit) {
        job?.cancel()
        job = viewModelScope.launch {
            _state.update { it.copy(busy = busy, error = null) }
            try {
                work()
            } catch (e: CancellationException) {
                throw e // a newer request replaced this one
            } catch (e: TinySamException) {
                _state.update { it.copy(error = e.message) }
            } catch (e: Exception) {
                // Runtime errors (ONNX Runtime's OrtException, LiteRT's IllegalArgumentException /
                // IllegalStateException, I/O) are shown, not allowed to crash the app.
                _state.update { it.copy(error = "${e.javaClass.simpleName}: ${e.message}") }
            } catch (e: OutOfMemoryError) {
                _state.update { it.copy(error = "out of memory: ${e.message}") }
            } finally {
                _state.update { it.copy(busy = null, progress = null) }
            }
        }
    }

    override fun onCleared() {
        predictor?.close()
    }
}
