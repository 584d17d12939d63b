"""packs.virtualenv_prerun: the packs the download reports a success for."""

from st2common.runners.base_action import Action

from appliance.packs.steps import Steps


class PacksTransformationAction(Action):
    def run(self, packs_status, packs_list=None):
        return Steps.virtualenv_prerun(packs_status, packs_list)
