"""packs.setup_virtualenv and packs.update_virtualenv: pack virtualenvs and their requirements (pip runs
with this action's environment: the `env` parameter and the action runner's own)."""

from st2common.runners.base_action import Action

from appliance.packs.steps import run_action


class SetupVirtualEnvironmentAction(Action):
    def run(self, packs, update=False, no_download=True):
        return run_action(self.logger, lambda steps: steps.setup_virtualenv(packs, update))
