"""packs.get_pack_warnings: warnings about the downloaded packs."""

from st2common.runners.base_action import Action

from appliance.packs.steps import run_action


class GetPackWarnings(Action):
    def run(self, packs_status):
        return run_action(self.logger, lambda steps: steps.get_pack_warnings(packs_status))
