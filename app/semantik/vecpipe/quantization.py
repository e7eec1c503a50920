"""What each DEFAULT_QUANTIZATION setting does to the model, per device. Never a silent no-op.

CUDA: float16 loads half-precision weights; int8 loads bitsandbytes 8-bit (LLM.int8) Linear layers.
CPU: float16 runs as the fastest path at its accuracy or better, chosen by the CPU's instructions
(all-MiniLM-L6-v2, batch 64, 190-word chunks; bench/embed.py prints the figures on the machine it runs on):
- with native bfloat16 (AVX512-BF16 or AMX): bfloat16, cosine >= 0.9999 to float32 and faster;
- without it (AVX2 only, as many AMD EPYC hosts): float32. bfloat16 is emulated there: on a 2-core EPYC
  it embedded 2.0 chunks/s against float32's 11.8, and CPU float16 matmuls are slower still.
- int8 is torch dynamic quantization: every Linear layer with per-channel int8 weights and the token
  embeddings with per-row 8-bit weights. Cosine to float32 >= 0.93 (mean 0.95-0.975 by text set);
  per-tensor weights agreed worse (min 0.91). Quantizing the embeddings too is what makes int8 use
  less memory than float32 rather than more (they are half of this small model's weights).
- torch 2.13 marks this eager-mode quantization API deprecated in favour of torchao; it works and
  is measured here, and moving to torchao is the known follow-up.
- Weights load without mmap on CPU (``disable_mmap``): a mapped float32 file stays resident beside
  the reduced copy, which made int8 *larger* than float32 in measured RSS.
"""

from __future__ import annotations

import gc
import logging
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from semantik.shared.config import Quantization
from semantik.vecpipe.memory import return_free_heap

log = logging.getLogger(__name__)
CPU_FLAGS = Path("/proc/cpuinfo")


class QuantizationError(RuntimeError):
    """The requested quantization cannot run on this machine; vecpipe refuses to start."""


@dataclass(frozen=True)
class LoadPlan:
    device: str
    requested: Quantization
    effective_dtype: str
    method: str
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    dynamic_int8: bool = False
    reason: str = ""  # why this path for this setting on this hardware (logged, and in /health)


@dataclass(frozen=True)
class CpuCapability:
    """What the CPU offers for matrix maths, and the limits torch and oneDNN are held to here."""

    torch_level: str  # torch.backends.cpu.get_cpu_capability() ("AVX512", "AVX2", ...; ATEN_CPU_CAPABILITY)
    bfloat16_flags: tuple[str, ...]  # of BFLOAT16_FLAGS, those /proc/cpuinfo lists
    onednn_isa: str = "ALL"  # ONEDNN_MAX_CPU_ISA: oneDNN, which runs bfloat16 matmuls, uses no more

    @property
    def native_bfloat16(self) -> bool:
        onednn_allows = self.onednn_isa in ("ALL", "DEFAULT") or any(
            kind in self.onednn_isa for kind in ("BF16", "FP16", "AMX", "AVX10")
        )
        return bool(self.bfloat16_flags) and self.torch_level.startswith("AVX512") and onednn_allows

    def describe(self) -> str:
        flags = ", ".join(self.bfloat16_flags) or f"none of {', '.join(BFLOAT16_FLAGS)}"
        held = "" if self.onednn_isa == "ALL" else f"; ONEDNN_MAX_CPU_ISA={self.onednn_isa}"
        return f"torch CPU level {self.torch_level}; bfloat16 instructions: {flags}{held}"


BFLOAT16_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_capability(cpuinfo: Path = CPU_FLAGS) -> CpuCapability:
    try:
        flags = set(cpuinfo.read_text().split())
    except OSError:
        flags = set()
    return CpuCapability(
        torch.backends.cpu.get_cpu_capability(),
        tuple(flag for flag in BFLOAT16_FLAGS if flag in flags),
        os.environ.get("ONEDNN_MAX_CPU_ISA", "ALL").upper(),
    )


def choose_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def plan_for(requested: Quantization, device: str, cpu: CpuCapability | None = None) -> LoadPlan:
    """The load plan for a setting; ``cpu`` defaults to this machine's (tests pass other CPUs)."""
    if device.startswith("cuda"):
        plan = _cuda_plan(requested, device)
    else:
        plan = _cpu_plan(requested, cpu or cpu_capability())
    log.info("%s on %s runs as %s: %s", requested, plan.device, plan.effective_dtype, plan.reason)
    return plan


def _cpu_plan(requested: Quantization, cpu: CpuCapability) -> LoadPlan:
    if requested == "float32":
        return LoadPlan(
            "cpu", requested, "float32", "full precision", _cpu_kwargs(torch.float32), reason="as set"
        )
    if requested == "float16" and cpu.native_bfloat16:
        return LoadPlan(
            "cpu",
            requested,
            "bfloat16",
            "bfloat16 weights and activations",
            _cpu_kwargs(torch.bfloat16),
            reason=f"this CPU computes bfloat16 natively ({cpu.describe()}); float16 matmuls are slow on CPU",
        )
    if requested == "float16":
        return LoadPlan(
            "cpu",
            requested,
            "float32",
            "full precision",
            _cpu_kwargs(torch.float32),
            reason=(
                f"this CPU has no native bfloat16 ({cpu.describe()}): emulated bfloat16 and CPU float16 "
                "are several times slower than float32, which is as accurate or better"
            ),
        )
    if torch.backends.quantized.engine == "none":
        raise QuantizationError(
            "int8 on CPU needs a torch quantized engine (x86, fbgemm, onednn or "
            "qnnpack); this torch build has none"
        )
    return LoadPlan(
        "cpu",
        requested,
        "int8",
        "torch dynamic int8: Linear per-channel, embeddings per-row",
        _cpu_kwargs(torch.float32),
        dynamic_int8=True,
        reason="as set",
    )


def _cpu_kwargs(dtype: torch.dtype) -> dict[str, Any]:
    # No mmap: a mapped float32 file would stay resident beside the reduced copy.
    return {"dtype": dtype, "disable_mmap": True}


def _cuda_plan(requested: Quantization, device: str) -> LoadPlan:
    if requested == "float32":
        return LoadPlan(
            device, requested, "float32", "full precision", {"dtype": torch.float32}, reason="as set"
        )
    if requested == "float16":
        return LoadPlan(
            device, requested, "float16", "half precision", {"dtype": torch.float16}, reason="as set"
        )
    try:
        import bitsandbytes  # noqa: F401  (only to prove it loads with its CUDA library)
        from transformers import BitsAndBytesConfig
    except Exception as error:  # an import failure here is a broken CUDA/bitsandbytes install
        raise QuantizationError(f"int8 on CUDA needs a working bitsandbytes: {error}") from error
    return LoadPlan(
        device,
        requested,
        "int8",
        "bitsandbytes LLM.int8 Linear layers",
        {"quantization_config": BitsAndBytesConfig(load_in_8bit=True), "device_map": device},
        reason="as set",
    )


def quantize_dynamic_int8(model: nn.Module) -> nn.Module:
    """Replace every nn.Linear and nn.Embedding with an 8-bit one, in place, and free the float weights."""
    with warnings.catch_warnings():
        # torch 2.13 marks eager-mode quantization (and the TorchScript it uses) deprecated, with
        # torchao as successor: said once in the module docstring and README, not on every start.
        warnings.filterwarnings("ignore", message=".*(deprecated|torchao).*")
        from torch.ao.quantization import (
            float_qparams_weight_only_qconfig,
            per_channel_dynamic_qconfig,
            quantize_dynamic,
        )

        spec = {nn.Linear: per_channel_dynamic_qconfig, nn.Embedding: float_qparams_weight_only_qconfig}
        quantize_dynamic(model, spec, inplace=True)
    release_freed_memory()
    return model


def release_freed_memory() -> None:
    """Collect garbage and hand freed heap pages back to the OS (after replacing the weights)."""
    gc.collect()
    return_free_heap()


def quantized_layer_count(model: nn.Module) -> int:
    """Layers that really compute with 8-bit weights (torch dynamic or bitsandbytes)."""
    return sum(
        1
        for module in model.modules()
        if type(module).__name__ == "Linear8bitLt"
        or (
            type(module).__module__.startswith("torch.ao.nn.quantized")
            and not type(module).__name__.endswith("PackedParams")
        )
    )


def parameter_dtypes(model: nn.Module) -> list[str]:
    return sorted({str(parameter.dtype).removeprefix("torch.") for parameter in model.parameters()})


def weight_bytes(model: nn.Module) -> int:
    """Bytes held by weights, 8-bit packed weights included (they are not nn.Parameters)."""
    total = sum(tensor.numel() * tensor.element_size() for tensor in model.parameters())
    for module in model.modules():
        packed_weight = getattr(module, "weight", None)  # a method on quantized modules, not a tensor
        if callable(packed_weight) and type(module).__module__.startswith("torch.ao.nn.quantized"):
            weight = packed_weight()
            total += weight.numel() * weight.element_size()
    return total
