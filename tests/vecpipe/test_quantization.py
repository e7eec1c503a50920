"""Quantization is real: each setting changes the loaded model, and embeddings stay close to float32.

Stated bounds on the fixed sentence set (tests/vecpipe/sentences.py), cosine similarity to float32:
float16 (bfloat16 on CPU) >= 0.999 for every sentence; int8 >= 0.94 for every sentence and >= 0.97 on
average (measured: 0.99992 / 0.9525 min, 0.9757 mean).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from semantik.vecpipe import quantization
from semantik.vecpipe.quantization import QuantizationError, plan_for
from vecpipe.conftest import Embedders
from vecpipe.sentences import SENTENCES


def test_cpu_float32_is_full_precision_without_mmap() -> None:
    plan = plan_for("float32", "cpu")
    assert (plan.effective_dtype, plan.fallback, plan.dynamic_int8) == ("float32", None, False)
    assert plan.model_kwargs == {"dtype": torch.float32, "disable_mmap": True}


def test_cpu_float16_falls_back_to_bfloat16_loudly(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="semantik.vecpipe.quantization"):
        plan = plan_for("float16", "cpu")
    assert plan.effective_dtype == "bfloat16" and plan.model_kwargs["dtype"] == torch.bfloat16
    assert plan.fallback.startswith("float16 requested on CPU: using bfloat16")
    assert f"quantization fallback: {plan.fallback}" in caplog.messages


def test_a_cpu_without_bfloat16_instructions_is_warned_about(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flags = tmp_path / "cpuinfo"
    flags.write_text("flags\t\t: fpu sse2 avx2\n")
    monkeypatch.setattr(quantization, "CPU_FLAGS", flags)
    assert "no native bfloat16 instructions" in plan_for("float16", "cpu").fallback


def test_cpu_int8_is_dynamic_quantization() -> None:
    plan = plan_for("int8", "cpu")
    assert (plan.effective_dtype, plan.dynamic_int8, plan.fallback) == ("int8", True, None)


def test_cuda_float16_loads_half_precision() -> None:
    plan = plan_for("float16", "cuda")
    assert (plan.device, plan.effective_dtype, plan.fallback) == ("cuda", "float16", None)
    assert plan.model_kwargs == {"dtype": torch.float16}


def test_cuda_int8_loads_bitsandbytes_8bit() -> None:
    plan = plan_for("int8", "cuda")
    config = plan.model_kwargs["quantization_config"]
    assert type(config).__name__ == "BitsAndBytesConfig" and config.load_in_8bit is True
    assert (plan.effective_dtype, plan.dynamic_int8, plan.model_kwargs["device_map"]) == (
        "int8",
        False,
        "cuda",
    )


def test_cuda_int8_without_bitsandbytes_refuses_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "bitsandbytes", None)
    with pytest.raises(QuantizationError, match="int8 on CUDA needs a working bitsandbytes"):
        plan_for("int8", "cuda")


def test_each_setting_really_changes_the_model(embedders: Embedders) -> None:
    full, half, eight = (embedders[q].info for q in ("float32", "float16", "int8"))
    assert (full.parameter_dtypes, full.quantized_layers) == (("float32",), 0)
    assert (half.parameter_dtypes, half.quantized_layers, half.effective_dtype) == (
        ("bfloat16",),
        0,
        "bfloat16",
    )
    assert half.weight_bytes * 2 == full.weight_bytes
    # 6 layers x 6 Linear + the pooler Linear + 3 embedding tables, all 8-bit
    assert (eight.quantized_layers, eight.effective_dtype) == (40, "int8")
    assert eight.weight_bytes < 0.3 * full.weight_bytes


def test_the_int8_model_holds_quantized_modules(embedders: Embedders) -> None:
    model = embedders["int8"].model
    kinds = {type(module).__name__ for module in model.modules()}
    assert {"Linear", "Embedding"} <= kinds
    assert not any(type(m) is torch.nn.Linear or type(m) is torch.nn.Embedding for m in model.modules())


@pytest.mark.parametrize(
    ("setting", "min_cosine", "mean_cosine"), [("float16", 0.999, 0.9995), ("int8", 0.94, 0.97)]
)
def test_embeddings_stay_close_to_float32(
    embedders: Embedders, setting: str, min_cosine: float, mean_cosine: float
) -> None:
    reference = embedders["float32"].embed(SENTENCES).vectors
    reduced = embedders[setting].embed(SENTENCES).vectors
    cosine = (reference * reduced).sum(axis=1)
    assert cosine.min() >= min_cosine
    assert cosine.mean() >= mean_cosine
    assert not np.array_equal(reference, reduced)  # a no-op "quantization" would be identical
