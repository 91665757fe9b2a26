"""PyTorch graphs behind the runtime's ``GraphSession`` protocol (the parity oracle).

``Predictor(TorchSession(encoder_graph), TorchSession(decoder_graph), geometry)`` runs the
PyTorch model through exactly the pipeline the exported graphs run in (the same resize, padding,
prompt encoding, mask selection and upscaling from ``tinysam_mobile``), so any difference
between the two is the graph conversion and nothing else. The same wrapper gives the
PyTorch-eager figures of ``benchmarks/bench_runtime.py``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from tinysam_mobile.session import validate_inputs
from tinysam_mobile.spec import GraphSpec


class TorchSession:
    """Run a torch module with numpy inputs / outputs named by ``spec``.

    Parameters
    ----------
    module
        ``EncoderGraph`` / ``DecoderGraph`` (or any module whose forward takes the spec's inputs
        in order and returns its outputs in order, a tensor or a tuple). Put in eval mode.
    spec
        The graph spec; inputs are validated against it like an ONNX Runtime session does.
    threads
        If given, ``torch.set_num_threads(threads)`` (process-wide) before each run.
    """

    def __init__(self, module: nn.Module, spec: GraphSpec, threads: int | None = None) -> None:
        self.module = module.eval()
        self.spec = spec
        self.threads = threads

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the module.

        Parameters
        ----------
        inputs
            One float32 array per spec input (validated: names, dtypes, ranks, dims).

        Returns
        -------
        dict[str, np.ndarray]
            One float32 array per spec output, by name.
        """
        validate_inputs(self.spec, inputs)
        if self.threads is not None:
            torch.set_num_threads(self.threads)
        args = [torch.from_numpy(np.ascontiguousarray(inputs[n])) for n in self.spec.input_names]
        with torch.inference_mode():
            result = self.module(*args)
        outputs = (result,) if isinstance(result, torch.Tensor) else tuple(result)
        if len(outputs) != len(self.spec.outputs):
            raise ValueError(
                f"{self.spec.name} module returned {len(outputs)} outputs, spec lists "
                f"{self.spec.output_names}"
            )
        return {
            t.name: out.detach().cpu().numpy().astype(np.float32, copy=False)
            for t, out in zip(self.spec.outputs, outputs, strict=True)
        }
