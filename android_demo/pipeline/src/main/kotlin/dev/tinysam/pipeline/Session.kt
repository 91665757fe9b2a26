package dev.tinysam.pipeline

/** Inputs that do not fit a graph's spec; mirrors `session.GraphInputError`. */
class GraphInputException(message: String) : TinySamException(message)

/**
 * One runnable graph; mirrors the Python `GraphSession` protocol. Implemented by the `:runtime`
 * module (ONNX Runtime Mobile, LiteRT) and by fakes in tests. Inputs and outputs are named as in
 * [spec], which comes from the bundle's manifest.
 */
interface GraphSession : AutoCloseable {
    val spec: GraphSpec

    /** Run the graph on named float32 inputs; returns the outputs named in [spec]. */
    fun run(inputs: Map<String, FloatTensor>): Map<String, FloatTensor>

    override fun close() {}
}

/** Input checks shared by every [GraphSession]; mirrors `session.validate_inputs`. */
object Sessions {
    /**
     * Check names, ranks, fixed dimensions and that each symbolic dimension (`num_prompts`) has
     * one value across inputs.
     *
     * @return the value bound to each symbolic dimension.
     */
    fun validateInputs(spec: GraphSpec, inputs: Map<String, FloatTensor>): Map<String, Int> {
        val g = spec.name.key
        val missing = spec.inputNames.filter { it !in inputs }
        val extra = inputs.keys.filter { it !in spec.inputNames }
        if (missing.isNotEmpty() || extra.isNotEmpty()) {
            throw GraphInputException(
                "$g graph inputs: missing ${missing.ifEmpty { "none" }}, unexpected ${extra.ifEmpty { "none" }} " +
                    "(expected ${spec.inputNames})",
            )
        }
        val bound = LinkedHashMap<String, Int>()
        val where = HashMap<String, String>()
        for (t in spec.inputs) {
            if (t.dtype != "float32") throw GraphInputException("$g input '${t.name}' has dtype ${t.dtype}; only float32 graphs are supported")
            val shape = inputs.getValue(t.name).shape
            if (shape.size != t.shape.size) {
                throw GraphInputException("$g input '${t.name}' must have rank ${t.shape.size} ${t.shape}, got shape ${shape.contentToString()}")
            }
            t.shape.forEachIndexed { axis, want ->
                val got = shape[axis]
                if (want is Int) {
                    if (want != got) throw GraphInputException("$g input '${t.name}' dim $axis must be $want ${t.shape}, got shape ${shape.contentToString()}")
                } else {
                    val name = want.toString()
                    val prev = bound[name]
                    if (prev != null && prev != got) {
                        throw GraphInputException("$g input '${t.name}' dim $axis ($name) is $got but ${where[name]} has $name = $prev")
                    }
                    bound[name] = got
                    where.putIfAbsent(name, "'${t.name}'")
                }
            }
        }
        return bound
    }
}
