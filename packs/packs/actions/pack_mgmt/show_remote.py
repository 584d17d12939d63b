"""packs.show: a pack's entry in the site's pack index."""

from st2common.runners.base_action import Action

from appliance.packs.steps import run_action


class ShowRemote(Action):
    def run(self, pack):
        return run_action(self.logger, lambda steps: steps.show(pack))
