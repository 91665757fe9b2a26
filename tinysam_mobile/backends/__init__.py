"""Graph sessions for the optional runtimes (TFLite); ONNX Runtime lives in ``session.py``.

Each backend implements :class:`tinysam_mobile.session.GraphSession` and imports its runtime
lazily, raising :class:`~tinysam_mobile.errors.MissingDependencyError` naming the extra.
"""
