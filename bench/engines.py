"""Embedding engines for CPU hosts: vecpipe's torch paths against ONNX Runtime and OpenVINO, same chunks.

    VIRTUAL_ENV=$PWD/.venv .venv/bin/uv pip install onnx==1.23.2 onnxruntime==1.32.0 openvino==2026.4.1
    .venv/bin/python bench/engines.py            # about 15 minutes on 2 cores
    .venv/bin/python bench/engines.py --quick    # 256 chunks, 3 rounds: about 5 minutes
    ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 .venv/bin/python bench/engines.py --quick
                                                 # torch and OpenVINO as on an AVX2-only CPU (ONNX
                                                 # Runtime's own kernels ignore both: not comparable)

The model is exported to ONNX here, from its local directory (never from a hub); int8 is ONNX Runtime's
dynamic quantization of that export (weights int8, activations quantized per call, as torch's int8 path).
Every engine tokenizes as sentence-transformers does (the model's fast tokenizer, 256 tokens at most),
mean-pools and normalizes, and is timed on the same chunks of the PostgreSQL manual, batch 64, the engines
alternating batch by batch (bench/embed.py's `interleaved`). It prints texts/s and the cosine to torch
float32 on every chunk, then whether any engine beats vecpipe's default path at cosine >= 0.999 by a
clear margin (ADOPT_MARGIN): the condition for adopting one as a vecpipe backend. A benchmark: it asserts
nothing.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from embed import BATCH, interleaved, listed, model_path, real_chunks  # noqa: E402

MAX_TOKENS = 256  # the model's max_seq_length (sentence_bert_config.json)
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# A new engine is worth its wheels, its export and its code only clearly faster: rounds on this shared
# machine differ by 5-10 %.
ADOPT_MARGIN = 1.10


def export(directory: Path) -> tuple[Path, Path]:
    """The model's transformer as ONNX (float32), and its dynamically quantized int8 copy."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel

    class Hidden(torch.nn.Module):  # keyword arguments: BertModel's positional order changes between releases
        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            return self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    float32, int8 = directory / "model.onnx", directory / "model-int8.onnx"
    example = torch.ones((2, 8), dtype=torch.int64)
    axes = {name: {0: "batch", 1: "tokens"} for name in (*INPUTS, "hidden")}
    model = Hidden(AutoModel.from_pretrained(model_path()).eval())
    torch.onnx.export(
        model, (example, example, example * 0), str(float32), input_names=list(INPUTS),
        output_names=["hidden"], dynamic_axes=axes, opset_version=17, dynamo=False,
    )  # fmt: skip
    quantize_dynamic(str(float32), str(int8), weight_type=QuantType.QInt8)
    return float32, int8


def pooled(run: Callable[[dict[str, np.ndarray]], np.ndarray]) -> Callable[[list[str]], np.ndarray]:
    """texts -> unit vectors through ``run`` (inputs -> last hidden state), as sentence-transformers pools."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path())

    def embed(texts: list[str]) -> np.ndarray:
        inputs = tokenizer(texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="np")
        hidden = run({name: inputs[name].astype(np.int64) for name in INPUTS})
        mask = inputs["attention_mask"][..., None].astype(np.float32)
        means = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
        return means / np.linalg.norm(means, axis=1, keepdims=True)

    return embed


def onnxruntime_engine(model: Path) -> Callable[[list[str]], np.ndarray]:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = onnxruntime.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    return pooled(lambda inputs: session.run(None, inputs)[0])


def openvino_engine(model: Path, precision: str | None) -> Callable[[list[str]], np.ndarray]:
    """OpenVINO's CPU plugin; ``precision`` None is its default (bfloat16 where the CPU computes it)."""
    import openvino

    config = {"INFERENCE_PRECISION_HINT": precision} if precision else {}
    compiled = openvino.Core().compile_model(str(model), "CPU", config)
    request = compiled.create_infer_request()
    return pooled(lambda inputs: request.infer(inputs)[compiled.output(0)])


def all_of(engine: Callable[[list[str]], np.ndarray], texts: list[str]) -> np.ndarray:
    """Every text's vector, a batch at a time (the whole list at once holds gigabytes of attention)."""
    return np.concatenate([engine(texts[start : start + BATCH]) for start in range(0, len(texts), BATCH)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="256 chunks and 3 rounds")
    args = parser.parse_args()
    missing = [name for name in ("onnx", "onnxruntime", "openvino") if importlib.util.find_spec(name) is None]
    if missing:
        sys.exit(f"engines bench: install {', '.join(missing)} first (this file's docstring says how)")
    from semantik.vecpipe.models import SentenceTransformerEmbedder
    from semantik.vecpipe.quantization import cpu_capability

    texts = real_chunks(256 if args.quick else 512)
    print(f"engines bench: {cpu_capability().describe()}; {len(texts)} chunks of the PostgreSQL manual")
    torch_paths = {
        "torch float32": SentenceTransformerEmbedder(model_path(), "float32", device="cpu"),
        "torch default": SentenceTransformerEmbedder(model_path(), "float16", device="cpu"),
        "torch int8": SentenceTransformerEmbedder(model_path(), "int8", device="cpu"),
    }
    default = torch_paths["torch default"].info.effective_dtype
    engines: dict[str, Callable[[list[str]], np.ndarray]] = {
        name: lambda batch, chosen=embedder: chosen.embed(batch, batch_size=BATCH).vectors
        for name, embedder in torch_paths.items()
    }
    with tempfile.TemporaryDirectory(prefix="semantik-onnx-") as directory:
        float32, int8 = export(Path(directory))
        engines["onnxruntime float32"] = onnxruntime_engine(float32)
        engines["onnxruntime int8"] = onnxruntime_engine(int8)
        for name, model, precision in (
            ("openvino float32", float32, "f32"),
            ("openvino default", float32, None),
            ("openvino int8", int8, None),
        ):
            try:
                engines[name] = openvino_engine(model, precision)
            except RuntimeError as error:  # its bfloat16 kernels under ONEDNN_MAX_CPU_ISA=AVX2, for one
                print(f"  {name}: does not compile here: {str(error).strip().splitlines()[-1]}")
        rates = interleaved(engines, texts, 3 if args.quick else 5)
        vectors = {name: all_of(engine, texts) for name, engine in engines.items()}
        cosines = {name: (found * vectors["torch float32"]).sum(axis=1) for name, found in vectors.items()}

    print(f"\n== texts/s, batch {BATCH}, median of rounds; cosine to torch float32 on every chunk ==")
    print(f"   (torch default = DEFAULT_QUANTIZATION=float16, which runs as {default} on this CPU)")
    for name, values in rates.items():
        cosine = cosines[name]
        print(
            f"  {name:20s} {statistics.median(values):7.1f}   cosine min {cosine.min():.5f}"
            f" mean {cosine.mean():.5f}   (rounds: {listed(values)})"
        )
    accurate = [name for name in engines if cosines[name].min() >= 0.999]
    fastest = max(accurate, key=lambda name: statistics.median(rates[name]))
    ratio = statistics.median(rates[fastest]) / statistics.median(rates["torch default"])
    print(f"\n== fastest with cosine >= 0.999: {fastest}, {ratio:.2f}x vecpipe's default path ==")
    wins = not fastest.startswith("torch") and ratio >= ADOPT_MARGIN
    print(f"   another engine beats torch by >= {ADOPT_MARGIN}x at equal accuracy: {'yes' if wins else 'no'}")


if __name__ == "__main__":
    main()
