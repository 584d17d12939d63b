"""packs.get: an installed pack's pack.yaml and git status."""

from st2common.runners.base_action import Action

from appliance.packs.steps import run_action


class GetInstalled(Action):
    def run(self, pack, branch="master"):
        return run_action(self.logger, lambda steps: steps.get(pack, branch))
