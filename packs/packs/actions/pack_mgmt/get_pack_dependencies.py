"""packs.get_pack_dependencies: the dependencies of the downloaded packs still to install, and conflicts."""

from st2common.runners.base_action import Action

from appliance.packs.steps import run_action


class GetPackDependencies(Action):
    def run(self, packs_status, nested):
        return run_action(self.logger, lambda steps: steps.get_pack_dependencies(packs_status, nested))
