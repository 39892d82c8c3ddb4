"""Shared fixtures: small crops of real photos, the Hypothesis profiles and the ``slow`` switch.

Everything is kept small (tens of pixels a side) and single-threaded: the suite shares two CPU
cores with other work and should finish in well under three minutes.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, settings

from testing.datasets import COLOR_PHOTO_NAMES, PHOTO_NAMES
from testing.datasets import small_crop as load_photo

torch.set_num_threads(1)

# "ci": reproducible and short; "dev" (default): random examples, a few more of them.
settings.register_profile(
    "ci", derandomize=True, max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# For bug hunts: pytest --hypothesis-profile=thorough (minutes).
settings.register_profile("thorough", max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(params=PHOTO_NAMES)
def photo(request) -> np.ndarray:
    """Each photo crop (48x64), uint8 as the real codecs take it."""
    return load_photo(request.param)


@pytest.fixture(params=COLOR_PHOTO_NAMES)
def color_photo(request) -> np.ndarray:
    return load_photo(request.param)


@pytest.fixture
def odd_photo() -> np.ndarray:
    """An RGB crop whose sides are not multiples of 8 or 16 (partial blocks and MCUs)."""
    return load_photo("astronaut", 37, 53)


@pytest.fixture
def full_form() -> bool:
    """Whether ``slow`` tests run in their full form (``KDJ_FULL=1``) or the small CI form."""
    return os.environ.get("KDJ_FULL") == "1"


# --------------------------------------------------------------------------------------------------
# Device: pytest --device cuda (or cpu, cuda:1); by default CUDA when available, else the CPU.
# --------------------------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--device",
        default=None,
        help="device the codec tests run on: cpu, cuda, cuda:N (default: cuda if available, else cpu)",
    )


@pytest.fixture(scope="session")
def device(request) -> torch.device:
    """The device the codec runs on in the tests that take it; results are compared on the CPU."""
    name = request.config.getoption("--device") or ("cuda" if torch.cuda.is_available() else "cpu")
    chosen = torch.device(name)
    if chosen.type == "cuda" and not torch.cuda.is_available():
        pytest.skip(f"--device {name}: CUDA is not available")
    return chosen
