"""packs.delete: delete pack directories and their virtualenvs."""

from st2common.runners.base_action import Action

from appliance.packs.steps import run_action


class UninstallPackAction(Action):
    def run(self, packs, abs_repo_base="", delete_env=True):
        return run_action(self.logger, lambda steps: steps.delete(packs, delete_env), abs_repo_base)
