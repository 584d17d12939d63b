"""packs.unload: unregister every content of packs through the API (POST /v1/packs/unload)."""

from st2common.runners.base_action import Action

from appliance.packs.steps import run_action


class UnregisterPackAction(Action):
    def run(self, packs):
        return run_action(self.logger, lambda steps: steps.unload(packs))
