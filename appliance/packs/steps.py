"""What each action of the packs pack does, with StackStorm 3.9's parameters and results
(contrib/packs/actions/pack_mgmt/*.py); packs/packs/actions/pack_mgmt/*.py are thin wrappers over this.

packs.install (actions/workflows/install.yaml) runs download -> virtualenv_prerun ->
get_pack_dependencies (looping back to download for dependencies) -> setup_virtualenv ->
get_pack_warnings -> load. Unlike StackStorm's, a failure anywhere leaves the previous version of each
pack as it was: download replaces the pack directories inside a transaction (transaction.py) owned by
the install's execution, setup_virtualenv keeps the old virtualenvs aside in it, and load commits it once
the registration succeeded; each of them rolls every pack of the call back when it fails.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import yaml

from appliance import config as config_module
from appliance import models
from appliance.models.names import PACK_REF
from appliance.packs import PackError, git, index, manifest, removal, virtualenvs
from appliance.packs.api_client import ApiClient
from appliance.packs.download import Downloaded, download
from appliance.packs.source import split
from appliance.packs.transaction import STATE_DIR, Busy, Transaction
from appliance.packs.virtualenvs import VirtualenvSettings

# packs.load's `register` names -> the API's type names (StackStorm's COMPATIBILITY_TRANSFORMATIONS)
REGISTER_TYPES = {"runners": "runner", "triggers": "trigger", "sensors": "sensor", "actions": "action",
                  "rules": "rule", "rule_types": "rule_type", "aliases": "alias", "policiy_types": "policy_type",
                  "policies": "policy", "configs": "config"}
Log = Callable[[str], None]


def _quiet(_message: str) -> None:
    pass


@dataclass(frozen=True)
class Settings:
    packs_base: str  # where packs are installed: [content] system_packs_base_path (StackStorm's abs_repo_base)
    packs_paths: tuple[str, ...]  # where installed packs are found
    virtualenvs: VirtualenvSettings
    index_urls: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, config, packs_base: str = "") -> Settings:
        base = packs_base.rstrip("/") or config.packs_paths[0]
        return cls(packs_base=base, packs_paths=tuple(dict.fromkeys([base, *config.packs_paths])),
                   virtualenvs=VirtualenvSettings.from_config(config),
                   index_urls=tuple(config.get("content", "index_url")))

    def installed_path(self, pack: str) -> Optional[str]:
        """The directory of installed pack `pack` (StackStorm's get_pack_directory), None when absent."""
        if not isinstance(pack, str) or not PACK_REF.match(pack):
            return None
        for base in self.packs_paths:
            path = os.path.join(base, pack)
            if os.path.isdir(path):
                return path
        return None


@dataclass
class Steps:
    settings: Settings
    owner: str  # the execution the install belongs to (the workflow), which owns its transactions
    api: Optional[ApiClient] = None
    log: Log = _quiet
    is_running: Callable[[str], bool] = field(default=lambda owner: False)

    @classmethod
    def for_action(cls, config, log: Log, packs_base: str = "") -> Steps:
        """Steps as an action of the packs pack runs them: config from st2.conf, the API with its token, and
        the owner of its transactions its parent workflow (itself when run alone)."""
        api = ApiClient()
        own = os.environ.get("ST2_ACTION_EXECUTION_ID", "")
        owner = own
        if own and api.api_url:
            doc = api.execution(own) or {}
            owner = doc.get("parent") or own

        def is_running(execution_id: str) -> bool:
            if not execution_id or not api.api_url:
                return False
            doc = api.execution(execution_id)
            return bool(doc) and doc.get("status") not in models.COMPLETED_STATUSES

        return cls(Settings.from_config(config, packs_base), owner or "local", api, log, is_running)

    # -- transactions -------------------------------------------------------------------------------
    def _transaction(self, pack: str) -> Optional[Transaction]:
        return Transaction.find(self.settings.packs_base, self.settings.virtualenvs.root, pack)

    def _begin(self, pack: str, force: bool = False) -> Transaction:
        """A new transaction for `pack`; one left by an install that has ended (killed, timed out) is rolled
        back first; one of an install still running is Busy, unless `force`."""
        existing = self._transaction(pack)
        if existing is not None:
            owner = existing.owner
            if owner == self.owner:
                raise PackError(f'Pack "{pack}" is installed twice by this installation.')
            if not force and self.is_running(owner):
                raise Busy(f'Another installation of pack "{pack}" (execution {owner}) is running; try again '
                           'when it has ended, or use "force".')
            self.log(f'Rolling back the unfinished installation of pack "{pack}" (execution {owner})')
            existing.abort()
        return Transaction.begin(self.settings.packs_base, self.settings.virtualenvs.root, pack, self.owner)

    def _mine(self, packs: list[str]) -> list[Transaction]:
        found = [self._transaction(pack) for pack in packs if isinstance(pack, str) and PACK_REF.match(pack)]
        return [txn for txn in found if txn is not None and txn.owner == self.owner]

    def _abort(self, packs: list[str]) -> None:
        for txn in self._mine(packs):
            self.log(f'Restoring the previous version of pack "{txn.ref}"')
            txn.abort()

    # -- packs.download ------------------------------------------------------------------------------
    def _find_in_index(self, name: str) -> Optional[dict]:
        return index.pack_from_index(name, list(self.settings.index_urls))

    def download(self, packs: list[str], force: bool = False, dependency_list: Optional[list[str]] = None) -> dict:
        """Fetch and put in place each pack (dependency_list instead of packs when given); returns
        {ref: "Success."}. Any failure restores every pack of the call and raises, naming each failure."""
        specs = list(dict.fromkeys(dependency_list or packs or []))
        if not specs:
            raise PackError("No pack to download.")
        staging = os.path.join(self.settings.packs_base, STATE_DIR)
        result: dict[str, str] = {}
        errors: list[str] = []
        begun: list[Transaction] = []
        try:
            for spec in specs:
                try:
                    pack = download(spec, staging, self._find_in_index, force)
                except PackError as exc:
                    errors.append(str(exc))
                    continue
                try:
                    begun.append(self._put_in_place(pack, force))
                except PackError as exc:
                    errors.append(str(exc))
                    continue
                self.log(f'Pack "{pack.ref}" from {pack.source.url} is in {begun[-1].live}')
                result[pack.ref] = "Success."
            if errors:
                raise PackError("\n".join(errors))
        except BaseException:
            for txn in reversed(begun):
                txn.abort()
            raise
        return result

    def _put_in_place(self, pack: Downloaded, force: bool) -> Transaction:
        try:
            txn = self._begin(pack.ref, force)
            try:
                txn.install(pack.directory)
            except BaseException:
                txn.abort()
                raise
            return txn
        finally:
            pack.discard()

    # -- packs.virtualenv_prerun, get_pack_dependencies, get_pack_warnings ---------------------------
    @staticmethod
    def virtualenv_prerun(packs_status: Optional[dict], packs_list: Optional[list] = None) -> list:
        """The packs the download reports a success for, after packs_list (StackStorm's PacksTransformation)."""
        packs = list(packs_list or [])
        packs += [name for name, status in (packs_status or {}).items() if "success" in str(status).lower()]
        return packs

    def _installed_metadata(self, pack: str) -> Optional[dict]:
        path = self.settings.installed_path(pack)
        if path is None:
            return None
        try:
            return manifest.read(path)
        except PackError:
            return None

    def get_pack_dependencies(self, packs_status: Optional[dict], nested: int) -> dict:
        """StackStorm's GetPackDependencies: the dependencies still to download, and those in conflict with
        an installed version or with another dependency."""
        if not packs_status or nested == 0:
            return {}
        dependency_list: list[str] = []
        conflict_list: list[str] = []
        for pack, status in packs_status.items():
            if "success" not in str(status).lower():
                continue
            metadata = self._installed_metadata(pack)
            wanted = (metadata or {}).get("dependencies") or []
            for dependency in wanted if isinstance(wanted, list) else []:
                if not isinstance(dependency, str) or not dependency:
                    continue
                name_or_url, version = split(dependency)
                last = name_or_url.split("/")[-1]
                name = last if "/" not in name_or_url else (last if ".git" not in last else last.split(".")[0])
                existing = self._installed_version(name)
                if not existing and "stackstorm-" in name.lower():
                    existing = self._installed_version(name.split("stackstorm-")[-1])
                if existing:
                    existing = existing if existing.startswith("v") else "v" + existing
                    version = version if not version or version.startswith("v") else "v" + version
                    if version and existing != version and dependency not in conflict_list:
                        conflict_list.append(dependency)
                elif self._conflicts(name_or_url, version, dependency_list):
                    conflict_list.append(dependency)
                elif dependency not in dependency_list:
                    dependency_list.append(dependency)
        return {"dependency_list": dependency_list, "conflict_list": conflict_list, "nested": nested - 1}

    def _installed_version(self, pack: str) -> Optional[str]:
        metadata = self._installed_metadata(pack)
        version = (metadata or {}).get("version")
        return str(version) if version is not None else None

    @staticmethod
    def _conflicts(name_or_url: str, version: Optional[str], dependency_list: list[str]) -> bool:
        for listed in dependency_list:
            other, other_version = split(listed)
            if other == name_or_url:
                return version != other_version
        return False

    def get_pack_warnings(self, packs_status: Optional[dict]) -> dict:
        if not packs_status:
            return {}
        warnings = []
        for pack, status in packs_status.items():
            if "success" in str(status).lower():
                warning = manifest.warning(self._installed_metadata(pack) or {})
                if warning:
                    warnings.append(warning)
        return {"warning_list": warnings}

    # -- packs.setup_virtualenv / update_virtualenv -----------------------------------------------------
    def setup_virtualenv(self, packs: list[str], update: bool = False, env: Optional[dict] = None) -> str:
        """Make each pack's virtualenv and install its requirements. A failure puts back the previous
        virtualenv (and, inside an install, the previous version of every pack of the call) and raises."""
        packs = list(packs or [])
        directories = {}
        for pack in packs:
            self.settings.virtualenvs.path_of(pack)  # a valid name, or PackError
            directories[pack] = self.settings.installed_path(pack)
            if directories[pack] is None:
                searched = ", ".join(self.settings.packs_paths)
                self._abort(packs)
                raise PackError(f'Pack "{pack}" is not installed. Looked in: {searched}')
        own: list[Transaction] = []  # transactions begun here (no install around this call)
        try:
            for pack in packs:
                venv = self.settings.virtualenvs.path_of(pack)
                if not (update and os.path.isdir(venv)):
                    txn = next(iter(self._mine([pack])), None)
                    if txn is None:
                        txn = self._begin(pack)
                        own.append(txn)
                    txn.set_virtualenv_aside()
                virtualenvs.setup(pack, directories[pack], self.settings.virtualenvs, update, env, self.log)
        except BaseException:
            for txn in own:
                txn.abort()
            self._abort(packs)
            raise
        for txn in own:
            txn.commit()
        return f"Successfully set up virtualenv for the following packs: {', '.join(packs)}"

    # -- packs.load / unload / delete / uninstall ---------------------------------------------------------
    def load(self, register: str = "all", packs: Optional[list[str]] = None) -> dict:
        """Register the packs through the API (POST /v1/packs/register); commits their installation when it
        succeeds, restores their previous version when it fails."""
        if self.api is None:
            raise PackError("No API to register the packs with.")
        types = [REGISTER_TYPES.get(kind.strip(), kind.strip()) for kind in (register or "all").split(",")]
        names = list(reversed(packs or []))  # dependencies (downloaded last) register first, as StackStorm's
        try:
            result = self.api.register(names or None, types)
        except BaseException:
            self._abort(names)
            raise
        for txn in self._mine(names):
            txn.commit()
        return result

    def unload(self, packs: list[str]) -> dict:
        removal.refuse_system_packs(packs, "Unregister includes an unregisterable pack - {}.")
        if self.api is None:
            raise PackError("No API to unregister the packs with.")
        return self.api.unload(list(packs))

    def delete(self, packs: list[str], delete_env: bool = True) -> None:
        """StackStorm's packs.delete; a pack this installation put in place goes back to its previous
        version instead (the install workflow deletes its packs when their dependencies conflict)."""
        removal.refuse_system_packs(packs)
        restored = {txn.ref for txn in self._mine(packs)}
        self._abort(list(restored))
        rest = [pack for pack in packs if pack not in restored]
        for path in removal.delete(rest, self.settings.packs_base, self.settings.virtualenvs.root, delete_env):
            self.log(f'Deleted pack directory "{path}"')

    # -- packs.get / search / show ---------------------------------------------------------------------
    def get(self, pack: str, branch: str = "master") -> dict:
        """StackStorm's packs.get: the installed pack's pack.yaml and its git status (nothing when absent)."""
        if not isinstance(pack, str) or not PACK_REF.match(pack):
            return {"pack": None, "git_status": None}
        paths = [os.path.join(base, pack) for base in self.settings.packs_paths]
        path = next((p for p in paths if os.path.isfile(os.path.join(p, manifest.MANIFEST))), None)
        if path is None:
            if any(os.path.isdir(p) for p in paths):
                raise PackError(f'Pack "{pack}" doesn\'t contain pack.yaml file.')
            return {"pack": None, "git_status": None}
        try:
            with open(os.path.join(path, manifest.MANIFEST), encoding="utf-8") as handle:
                details = yaml.safe_load(handle)
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            message = " ".join(str(exc).split())
            raise PackError(f'Pack "{pack}" doesn\'t contain a valid pack.yaml file: {message}') from None
        return {"pack": details, "git_status": git.describe(path, branch)}

    def search(self, query: str) -> list:
        return index.search(query, list(self.settings.index_urls))

    def show(self, pack: str) -> dict:
        return {"pack": index.pack_from_index(pack, list(self.settings.index_urls))}


def run_action(logger: Any, work: Callable[[Steps], Any], packs_base: str = "") -> Any:
    """Run one action of the packs pack (`work` gets its Steps). A PackError, or an st2.conf that cannot
    be read, is the action's failure in one line: logged, and returned as (False, message) so that the
    execution fails with that message as its result."""
    try:
        return work(Steps.for_action(config_module.load(), logger.info, packs_base))
    except (PackError, config_module.ConfigError) as exc:
        logger.error("%s", exc)
        return False, str(exc)
