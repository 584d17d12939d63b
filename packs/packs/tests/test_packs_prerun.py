"""packs.virtualenv_prerun: the packs whose download succeeded go on to their virtualenvs, after packs_list."""

from pack_mgmt.virtualenv_setup_prerun import PacksTransformationAction
from st2tests.base import BaseActionTestCase


class VirtualenvPrerunTestCase(BaseActionTestCase):
    action_cls = PacksTransformationAction

    def test_only_the_packs_downloaded_go_on(self):
        action = self.get_action_instance()
        status = {"clush": "Success.", "broken": "Failed: no pack.yaml", "ops": "success"}
        self.assertEqual(action.run(packs_status=status), ["clush", "ops"])
        self.assertEqual(action.run(packs_status=status, packs_list=["first"]), ["first", "clush", "ops"])

    def test_nothing_downloaded_is_nothing_to_set_up(self):
        self.assertEqual(self.get_action_instance().run(packs_status=None), [])
