"""Shared test fixtures. CUDA tests carry the `cuda` marker and are skipped without a GPU."""

from __future__ import annotations

import copy
import json

import pytest

from cases import SUITE_DIR, parse_case

SEED_PATH = SUITE_DIR / "seed" / "seed-2-2-2.json"


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def pytest_collection_modifyitems(config, items):
    if _cuda_available():
        return
    skip = pytest.mark.skip(reason="cuda: no CUDA device on this machine")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def seed_document() -> dict:
    """A fresh copy of the seed case's JSON document (safe to modify)."""
    return copy.deepcopy(json.loads(SEED_PATH.read_text()))


@pytest.fixture
def seed_case():
    return parse_case(json.loads(SEED_PATH.read_text()), SEED_PATH)
