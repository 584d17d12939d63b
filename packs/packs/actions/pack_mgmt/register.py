"""packs.load: register packs through the API with the execution's token (POST /v1/packs/register)."""

from st2common.runners.base_action import Action

from appliance.packs.steps import run_action


class St2RegisterAction(Action):
    def run(self, register="all", packs=None):
        return run_action(self.logger, lambda steps: steps.load(register, packs))
