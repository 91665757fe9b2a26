"""Short names in the INT8 ONNX graphs (size).

The exporter and the static quantiser name every tensor and node after its module path plus a
suffix (``..._QuantizeLinear_Output``): about 0.17 MB of strings in the static int8 encoder at
1024, each name stored once per reference, plus ``value_info`` shape records that ONNX Runtime
recomputes when it loads the graph. :func:`shorten_names` rewrites an int8 graph with names
like ``t1f`` and no ``value_info``; graph inputs and outputs keep the spec's names, so sessions,
the manifest and the apps see the same graph. Float graphs keep their readable names.
"""

from __future__ import annotations

from pathlib import Path


def _base36(i: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        i, r = divmod(i, 36)
        out = digits[r] + out
        if i == 0:
            return out


def shorten_names(path: Path) -> int:
    """Rewrite the ONNX file at ``path`` (in place) with short internal names; returns how
    many tensor names changed.

    Raises
    ------
    ValueError
        The graph has subgraphs (``If`` / ``Loop`` bodies), whose outer-scope references this
        rewrite does not follow. The exporter's graphs have none.
    """
    import onnx

    model = onnx.load(str(path))
    graph = model.graph
    subgraph_kinds = (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
    if any(a.type in subgraph_kinds for n in graph.node for a in n.attribute):
        raise ValueError(f"{Path(path).name}: graphs with subgraphs keep their names")
    keep = {v.name for v in graph.input} | {v.name for v in graph.output}
    mapping: dict[str, str] = {}

    def short(name: str) -> str:
        if not name or name in keep:
            return name
        if name not in mapping:
            new = "t" + _base36(len(mapping))
            while new in keep:  # never shadow a graph input / output
                new += "_"
            mapping[name] = new
        return mapping[name]

    for init in graph.initializer:
        init.name = short(init.name)
    for i, node in enumerate(graph.node):
        node.input[:] = [short(n) for n in node.input]
        node.output[:] = [short(n) for n in node.output]
        node.name = "n" + _base36(i)
        node.doc_string = ""
    del graph.value_info[:]
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return len(mapping)
