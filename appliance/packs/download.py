"""Fetching one pack into a staging directory, checked before anything installed is touched: cloned
(git) or copied (a plain directory), its pack.yaml read, its ref and fields valid, and (unless `force`)
its stackstorm_version and python_versions compatible, with StackStorm's messages.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from typing import Callable, Optional

from appliance.models import PACKS, ValidationError
from appliance.packs import PackError, git, manifest
from appliance.packs.source import Source, resolve

_VERSION_FORMAT = ('Pack version "{}" doesn\'t follow a valid semver format. Valid versions and formats include: '
                   "0.1.0, 0.2.1, 1.1.0, etc.")


@dataclass(frozen=True)
class Downloaded:
    source: Source
    ref: str  # the pack's ref: its directory and virtualenv name
    directory: str  # the staged pack (inside `staging`)
    staging: str  # the temporary directory to remove once the pack has moved (or failed)
    metadata: dict

    def discard(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)


def download(spec: str, staging_root: str, find_in_index: Callable[[str], Optional[dict]],
             force: bool = False) -> Downloaded:
    """Fetch the pack `spec` into a new directory under `staging_root` (on the packs' file system)."""
    source = resolve(spec, find_in_index)
    os.makedirs(staging_root, exist_ok=True)
    staging = tempfile.mkdtemp(prefix="download-", dir=staging_root)
    target = os.path.join(staging, "pack")
    try:
        if source.is_git:
            git.clone(source.url, target, source.ref, source.local_path)
        else:
            if not os.path.isdir(source.local_path):
                raise PackError(f'Local pack directory "{source.local_path}" doesn\'t exist')
            shutil.copytree(source.local_path, target, symlinks=True)
        metadata = manifest.read(target, shown_as=source.url)
        ref = manifest.ref_of(metadata)
        check_fields(metadata, ref, source.url)
        if not force:
            manifest.check_versions(metadata)
        manifest.dependencies(metadata)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Downloaded(source, ref, target, staging, metadata)


def check_fields(metadata: dict, ref: str, shown_as: str) -> None:
    """The manifest against the pack declaration (the fields registration needs), and a semantic version."""
    try:
        PACKS.build({**metadata, "ref": ref})
    except ValidationError as exc:
        raise PackError(f'Pack "{shown_as}" has an invalid {manifest.MANIFEST}: {exc}') from None
    version = str(metadata.get("version"))
    if version.count(".") == 1:  # StackStorm's normalize_pack_version: 0.2 is 0.2.0
        version += ".0"
    if not manifest.PACK_VERSION.match(version):
        raise PackError(_VERSION_FORMAT.format(metadata.get("version")))
