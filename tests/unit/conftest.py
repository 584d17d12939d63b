"""Fixtures shared by the unit tests."""

from __future__ import annotations

import os
from typing import Callable, Iterator

import pytest

from appliance import config
from appliance.services.context import Context

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURE_PACKS = os.path.join(ROOT, "tests", "fixtures", "packs")


@pytest.fixture
def make_ctx(tmp_path) -> Iterator[Callable[..., Context]]:
    """A factory of Contexts over a fresh base_path and a private bus prefix; `extra` is more st2.conf
    text. Every Context made is closed at the end."""
    made: list[Context] = []

    def make(extra: str = "") -> Context:
        conf = tmp_path / "st2.conf"
        conf.write_text(f"[system]\nbase_path = {tmp_path}\n[messaging]\nprefix = u{tmp_path.name[-6:]}\n{extra}")
        made.append(Context(config.load(str(conf))))
        return made[-1]

    yield make
    for context in made:
        context.close()


@pytest.fixture
def open_ctx(make_ctx) -> Context:
    """A Context without authentication ([auth] enable = false), with the system trigger types
    registered: for the API resources' tests."""
    made = make_ctx("[auth]\nenable = false\n")
    made.registrar.register(types=("configs",))
    return made


@pytest.fixture
def packs_ctx(make_ctx) -> Context:
    """A Context with the shipped packs (packs/) and the test packs (tests/fixtures/packs) registered."""
    made = make_ctx(f"[content]\nsystem_packs_base_path = {ROOT}/packs\npacks_base_paths = {FIXTURE_PACKS}\n")
    made.registrar.register()
    return made
