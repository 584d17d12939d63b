"""packs.download: fetch packs and put them in place (appliance.packs.steps.Steps.download)."""

from st2common.runners.base_action import Action

from appliance.packs.steps import run_action


class DownloadGitRepoAction(Action):
    def run(self, packs, abs_repo_base="", verifyssl=True, force=False, dependency_list=None):
        return run_action(self.logger, lambda steps: steps.download(packs, force, dependency_list), abs_repo_base)
