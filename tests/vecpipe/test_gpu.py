"""The GPU path, on a machine with CUDA: vecpipe picks the device by itself, float16 and bitsandbytes'
int8 load there and stay close to float32 on the CPU. Elsewhere each test is skipped with the reason
(tests/conftest.py), never counted as passing."""

from __future__ import annotations

import numpy as np
import pytest

from vecpipe.sentences import SENTENCES

pytestmark = pytest.mark.gpu


def test_vecpipe_chooses_the_gpu_by_itself() -> None:
    from semantik.vecpipe.quantization import choose_device

    assert choose_device() == "cuda"


@pytest.mark.parametrize(
    ("setting", "dtype", "min_cosine"), [("float16", "float16", 0.999), ("int8", "int8", 0.94)]
)
def test_the_model_runs_on_the_gpu_close_to_float32_on_the_cpu(
    embedders, model_path: str, setting: str, dtype: str, min_cosine: float
) -> None:
    from semantik.vecpipe.models import SentenceTransformerEmbedder

    on_gpu = SentenceTransformerEmbedder(model_path, setting, device="cuda")
    assert (on_gpu.info.device, on_gpu.info.effective_dtype, on_gpu.info.reason) == ("cuda", dtype, "as set")
    cosine = (embedders["float32"].embed(SENTENCES).vectors * on_gpu.embed(SENTENCES).vectors).sum(axis=1)
    assert cosine.min() >= min_cosine
    assert np.isfinite(cosine).all()
