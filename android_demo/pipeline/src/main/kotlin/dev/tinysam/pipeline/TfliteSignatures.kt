package dev.tinysam.pipeline

/**
 * Names of the signatures of a LiteRT (`.tflite`) file written by `tinysam-export --target
 * tflite`; mirrors `tinysam_export.targets.tflite` (`ENCODER_SIGNATURE`, `signature_name`) and
 * `tinysam_mobile.backends.tflite._DECODER_SIGNATURE`.
 */
object TfliteSignatures {
    /** The encoder file's only signature. */
    const val ENCODER_SIGNATURE = "serving_default"

    /** Decoder signature names, `p{num_prompts}_n{num_points}` (`_DECODER_SIGNATURE`). */
    val DECODER_SIGNATURE = Regex("^p(\\d+)_n(\\d+)$")

    /** Name of the decoder signature for a static shape, e.g. `p16_n2` (`signature_name`). */
    fun signatureName(numPrompts: Int, numPoints: Int): String = "p${numPrompts}_n$numPoints"
}

/** Static shape and dtype of one signature input or output, as the interpreter reports it. */
class SignatureTensor(val shape: IntArray, val dtype: String = "float32")

/** Inputs and outputs of one signature, by tensor name (the interpreter's signature lists). */
class SignatureIo(val inputs: Map<String, SignatureTensor>, val outputs: Map<String, SignatureTensor>)

/**
 * Runs one named signature on arrays in the spec's input order and returns its outputs in the
 * spec's output order (`TfliteSession._call`). Implemented over LiteRT's `Interpreter.runSignature`
 * by `dev.tinysam.runtime.TfliteGraphSession`, and by fakes in tests.
 */
fun interface SignatureCall {
    fun call(signature: String, arrays: List<FloatTensor>): List<FloatTensor>
}

/**
 * One decoder call of a batch: rows `[start, start + real)` of the prompts, padded to [size] rows
 * by repeating the last one, run with [signature]; only the first [real] output rows are kept.
 */
data class SignatureChunk(val signature: String, val start: Int, val real: Int, val size: Int)

/**
 * Everything of a LiteRT graph session except the interpreter; mirrors
 * `tinysam_mobile.backends.tflite.TfliteSession` step by step, with the same names:
 *
 * - on load, every signature must have exactly the spec's inputs and at least its outputs
 *   ([BundleException] naming the signature otherwise); signatures named `p{B}_n{N}` fill
 *   [shapes] (`_shapes`); a file without signatures, or a decoder file without a `p{B}_n{N}`
 *   signature, is refused. Kotlin also checks what the Python class leaves to the interpreter:
 *   the static shapes and dtypes of every signature fit the spec, and a `p{B}_n{N}` signature
 *   really takes B prompts of N points;
 * - [pointCounts] (`point_counts`): the point counts (padding included) the file supports;
 * - [run] (`run`): validates the inputs against the spec; the encoder runs its first signature;
 *   the decoder picks the signatures of the batch's point count and splits the prompts ([plan]):
 *   each chunk takes the largest batch size that fits the prompts left, or, when fewer prompts are
 *   left than the smallest batch size, the smallest one padded by repeating the last prompt; the
 *   padding rows are dropped from the outputs (prompts are decoded independently, so the result
 *   equals one call on the whole batch). A point count without a signature is a
 *   [GraphInputException] naming the supported point counts.
 *
 * As in Python, the decoder's first input is the image embedding (not split) and the second the
 * point coordinates, whose first two dimensions are the batch's prompt and point counts.
 *
 * @param signatures every signature of the file, in the file's order.
 * @param fileName the file's name, for messages (`path.name`).
 * @param call runs one signature (`_call`).
 */
class TfliteSignatureSession(
    override val spec: GraphSpec,
    signatures: Map<String, SignatureIo>,
    val fileName: String,
    private val call: SignatureCall,
) : GraphSession {
    /** Every signature of the file, in its order (`_runners`). */
    val runners: List<String>

    /** Decoder signature of each `(num_prompts, num_points)` (`_shapes`). */
    val shapes: Map<Pair<Int, Int>, String>

    init {
        val names = ArrayList<String>()
        val table = LinkedHashMap<Pair<Int, Int>, String>()
        for ((name, sig) in signatures) {
            if (sig.inputs.keys != spec.inputNames.toSet() || !sig.outputs.keys.containsAll(spec.outputNames)) {
                throw BundleException(
                    "$fileName signature '$name' has inputs ${sig.inputs.keys.sorted()} / " +
                        "outputs ${sig.outputs.keys.sorted()}; the ${spec.name.key} spec has " +
                        "${spec.inputNames.sorted()} / ${spec.outputNames.sorted()}",
                )
            }
            val bound = checkStaticShapes(name, sig)
            names += name
            val m = TfliteSignatures.DECODER_SIGNATURE.matchEntire(name)
            if (m != null) {
                val b = m.groupValues[1].toInt()
                val n = m.groupValues[2].toInt()
                if (spec.name == GraphName.DECODER && (bound[promptDim] != b || bound[pointDim] != n)) {
                    throw BundleException(
                        "$fileName signature '$name' takes $promptDim = ${bound[promptDim]}, $pointDim = ${bound[pointDim]}; " +
                            "its name says $b prompts of $n points",
                    )
                }
                table[b to n] = name
            }
        }
        if (names.isEmpty()) throw BundleException("$fileName has no signature")
        if (spec.name == GraphName.DECODER && table.isEmpty()) {
            throw BundleException("$fileName has no decoder signature named p<B>_n<N> (it has ${names.joinToString()})")
        }
        runners = names
        shapes = table
    }

    /** Symbolic dimension of the prompt count: the first dimension of the second decoder input. */
    private val promptDim: String? get() = spec.inputs.getOrNull(1)?.shape?.getOrNull(0) as? String

    /** Symbolic dimension of the point count: the second dimension of the second decoder input. */
    private val pointDim: String? get() = spec.inputs.getOrNull(1)?.shape?.getOrNull(1) as? String

    /**
     * Check that every static shape of a signature fits the spec (rank, fixed dimensions, one value
     * per symbolic dimension) and every dtype is the spec's; return the symbolic dimensions' values.
     */
    private fun checkStaticShapes(name: String, sig: SignatureIo): Map<String, Int> {
        val bound = LinkedHashMap<String, Int>()
        for ((t, actual) in spec.inputs.map { it to sig.inputs.getValue(it.name) } + spec.outputs.map { it to sig.outputs.getValue(it.name) }) {
            val where = "$fileName signature '$name' tensor '${t.name}'"
            if (actual.dtype != t.dtype) throw BundleException("$where has dtype ${actual.dtype}; the spec has ${t.dtype}")
            if (!t.matches(actual.shape)) {
                throw BundleException("$where has shape ${actual.shape.contentToString()}; the spec has ${t.shape}")
            }
            t.shape.forEachIndexed { axis, dim ->
                if (dim is String) {
                    val prev = bound.putIfAbsent(dim, actual.shape[axis])
                    if (prev != null && prev != actual.shape[axis]) {
                        throw BundleException("$where has $dim = ${actual.shape[axis]}, another tensor of the signature has $prev")
                    }
                }
            }
        }
        return bound
    }

    /** Point counts (padding included) the decoder file supports (`point_counts`). */
    val pointCounts: List<Int> get() = shapes.keys.map { it.second }.distinct().sorted()

    /** Batch sizes of the signatures for [numPoints] points, largest first (`sizes`). */
    fun batchSizes(numPoints: Int): List<Int> = shapes.keys.filter { it.second == numPoints }.map { it.first }.sortedDescending()

    /**
     * The decoder calls for [numPrompts] prompts of [numPoints] points (the loop of `run`).
     *
     * @throws GraphInputException no signature takes [numPoints] points.
     */
    fun plan(numPrompts: Int, numPoints: Int): List<SignatureChunk> {
        val sizes = batchSizes(numPoints)
        if (sizes.isEmpty()) {
            throw GraphInputException(
                "$fileName has no decoder signature for $numPoints points (padding included); " +
                    "supported point counts: $pointCounts",
            )
        }
        val chunks = ArrayList<SignatureChunk>()
        var start = 0
        while (start < numPrompts) {
            // The largest batch that fits the prompts left; else the smallest, padded with copies.
            val size = sizes.firstOrNull { it <= numPrompts - start } ?: sizes.last()
            val real = minOf(size, numPrompts - start)
            chunks += SignatureChunk(shapes.getValue(size to numPoints), start, real, size)
            start += real
        }
        return chunks
    }

    /** Run signature [name] on arrays in the spec's input order; outputs in spec order (`_call`). */
    private fun callSignature(name: String, arrays: List<FloatTensor>): List<FloatTensor> {
        val outs = call.call(name, arrays)
        if (outs.size != spec.outputs.size) {
            throw GraphInputException("$fileName signature '$name' returned ${outs.size} outputs; the spec has ${spec.outputNames}")
        }
        return outs
    }

    /** Validate the inputs against the spec, run, and return the outputs by spec name (`run`). */
    override fun run(inputs: Map<String, FloatTensor>): Map<String, FloatTensor> {
        Sessions.validateInputs(spec, inputs)
        val arrays = spec.inputNames.map { inputs.getValue(it) }
        if (spec.name == GraphName.ENCODER) {
            val outs = callSignature(runners.first(), arrays)
            return spec.outputNames.zip(outs).toMap()
        }
        val emb = arrays[0]
        val coords = arrays[1]
        val b = coords.shape[0]
        val n = coords.shape[1]
        if (b == 0) throw GraphInputException("$fileName: the decoder got a batch of 0 prompts")
        val chunks = plan(b, n).map { c ->
            val part = arrays.drop(1).map { rows(it, c.start, c.real, c.size) }
            callSignature(c.signature, listOf(emb) + part).map { rows(it, 0, c.real, c.real) }
        }
        return spec.outputNames.withIndex().associate { (i, name) -> name to concatRows(chunks.map { it[i] }) }
    }

    companion object {
        /** Rows `[start, start + real)` of [x] along axis 0, padded to [size] rows by repeating the last. */
        fun rows(x: FloatTensor, start: Int, real: Int, size: Int): FloatTensor {
            require(real in 1..size && start >= 0 && start + real <= x.shape[0]) {
                "rows [$start, ${start + real}) padded to $size of a tensor with ${x.shape[0]} rows"
            }
            val row = if (x.shape[0] == 0) 0 else x.size / x.shape[0]
            val out = FloatArray(size * row)
            for (r in 0 until size) System.arraycopy(x.data, (start + minOf(r, real - 1)) * row, out, r * row, row)
            return FloatTensor(intArrayOf(size) + x.shape.copyOfRange(1, x.rank), out)
        }

        /** Concatenate tensors along axis 0 (`np.concatenate`). */
        fun concatRows(parts: List<FloatTensor>): FloatTensor {
            require(parts.isNotEmpty()) { "nothing to concatenate" }
            val data = FloatArray(parts.sumOf { it.size })
            var off = 0
            for (p in parts) {
                System.arraycopy(p.data, 0, data, off, p.size)
                off += p.size
            }
            return FloatTensor(intArrayOf(parts.sumOf { it.shape[0] }) + parts[0].shape.copyOfRange(1, parts[0].rank), data)
        }
    }
}
