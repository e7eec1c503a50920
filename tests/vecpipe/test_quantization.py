"""Quantization is real: each setting changes the loaded model, and embeddings stay close to float32.

Stated bounds on the fixed sentence set (tests/vecpipe/sentences.py), cosine similarity to float32:
float16 (bfloat16 or float32 on CPU, by its instructions) >= 0.999 for every sentence; int8 >= 0.94 for
every sentence and >= 0.97 on average (measured: 0.99992 / 0.9525 min, 0.9757 mean).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from semantik.vecpipe.quantization import CpuCapability, QuantizationError, cpu_capability, plan_for
from vecpipe.conftest import Embedders
from vecpipe.sentences import SENTENCES

AVX2_ONLY = CpuCapability("AVX2", ())  # e.g. AMD EPYC Zen 2/3, Intel before Cooper Lake
AVX512_BF16 = CpuCapability("AVX512", ("avx512_bf16",))  # e.g. AMD Zen 4, Intel Cooper Lake
AMX = CpuCapability("AVX512", ("avx512_bf16", "amx_bf16"))  # Intel Sapphire Rapids and later
NO_SIMD = CpuCapability("DEFAULT", ())


def test_cpu_float32_is_full_precision_without_mmap() -> None:
    plan = plan_for("float32", "cpu", AMX)
    assert (plan.effective_dtype, plan.reason, plan.dynamic_int8) == ("float32", "as set", False)
    assert plan.model_kwargs == {"dtype": torch.float32, "disable_mmap": True}


@pytest.mark.parametrize(("cpu", "dtype"), [(AMX, "bfloat16"), (AVX512_BF16, "bfloat16")])
def test_cpu_float16_is_bfloat16_where_the_cpu_computes_it(
    cpu: CpuCapability, dtype: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="semantik.vecpipe.quantization"):
        plan = plan_for("float16", "cpu", cpu)
    assert plan.effective_dtype == dtype and plan.model_kwargs["dtype"] == torch.bfloat16
    assert "computes bfloat16 natively" in plan.reason and "avx512_bf16" in plan.reason
    assert f"float16 on cpu runs as bfloat16: {plan.reason}" in caplog.messages


# An AMX CPU whose torch and oneDNN are held to AVX2 (ATEN_CPU_CAPABILITY, ONEDNN_MAX_CPU_ISA)
HELD_TO_AVX2 = (
    CpuCapability("AVX2", ("avx512_bf16", "amx_bf16")),
    CpuCapability("AVX512", ("avx512_bf16", "amx_bf16"), "AVX2"),
)


@pytest.mark.parametrize("cpu", [AVX2_ONLY, NO_SIMD, *HELD_TO_AVX2])
def test_cpu_float16_is_float32_where_bfloat16_would_be_emulated(
    cpu: CpuCapability, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="semantik.vecpipe.quantization"):
        plan = plan_for("float16", "cpu", cpu)
    assert (plan.effective_dtype, plan.model_kwargs["dtype"], plan.dynamic_int8) == (
        "float32",
        torch.float32,
        False,
    )
    assert f"no native bfloat16 (torch CPU level {cpu.torch_level};" in plan.reason
    assert f"float16 on cpu runs as float32: {plan.reason}" in caplog.messages


def test_the_capability_is_read_from_the_cpu_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("flags\t\t: fpu sse2 avx2 amx_bf16 avx512_bf16\n")
    assert cpu_capability(cpuinfo).bfloat16_flags == ("avx512_bf16", "amx_bf16")
    cpuinfo.write_text("flags\t\t: fpu sse2 avx2\n")
    assert cpu_capability(cpuinfo).native_bfloat16 is False
    assert cpu_capability(tmp_path / "absent").native_bfloat16 is False
    assert cpu_capability(cpuinfo).torch_level == torch.backends.cpu.get_cpu_capability()
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "avx512_core_amx")
    assert cpu_capability(cpuinfo).onednn_isa == "AVX512_CORE_AMX"


@pytest.mark.parametrize("cpu", [AVX2_ONLY, AMX])
def test_cpu_int8_is_dynamic_quantization(cpu: CpuCapability) -> None:
    plan = plan_for("int8", "cpu", cpu)
    assert (plan.effective_dtype, plan.dynamic_int8, plan.reason) == ("int8", True, "as set")


def test_cuda_float16_loads_half_precision() -> None:
    plan = plan_for("float16", "cuda")
    assert (plan.device, plan.effective_dtype, plan.reason) == ("cuda", "float16", "as set")
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
    half_dtype = "bfloat16" if cpu_capability().native_bfloat16 else "float32"
    assert (half.parameter_dtypes, half.quantized_layers, half.effective_dtype) == (
        (half_dtype,),
        0,
        half_dtype,
    )
    assert half.weight_bytes * (2 if half_dtype == "bfloat16" else 1) == full.weight_bytes
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
    if embedders[setting].info.effective_dtype != "float32":  # float16 runs as float32 on AVX2-only CPUs
        assert not np.array_equal(reference, reduced)  # a no-op "quantization" would be identical
