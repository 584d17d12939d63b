"""Fixtures of the pack management tests: git repositories of packs made by the test, and the packs base and
virtualenvs folder an installation works on."""

from __future__ import annotations

from typing import Callable

import pytest

from appliance.packs.steps import Settings, Steps
from appliance.packs.virtualenvs import VirtualenvSettings
from tests.support.pack_repos import PackRepo


@pytest.fixture
def make_repo(tmp_path) -> Callable[[str], PackRepo]:
    """A factory of empty pack repositories under <tmp>/src (commit versions into them)."""
    return lambda name: PackRepo(str(tmp_path / "src" / name), name)


@pytest.fixture
def settings(tmp_path) -> Settings:
    (tmp_path / "packs").mkdir()
    return Settings(packs_base=str(tmp_path / "packs"), packs_paths=(str(tmp_path / "packs"),),
                    virtualenvs=VirtualenvSettings(root=str(tmp_path / "virtualenvs")))


@pytest.fixture
def make_steps(settings) -> Callable[..., Steps]:
    """Steps as the actions of one installation (owner) run them; `running` lists the executions that
    have not ended (any other owner has)."""

    def make(owner: str = "install-1", api=None, running: tuple = ()) -> Steps:
        return Steps(settings, owner, api, is_running=lambda execution: execution in running)

    return make
