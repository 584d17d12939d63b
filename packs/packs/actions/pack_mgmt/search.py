"""packs.search: search the site's pack index."""

from st2common.runners.base_action import Action

from appliance.packs.steps import run_action


class PackSearch(Action):
    def run(self, query):
        return run_action(self.logger, lambda steps: steps.search(query))
