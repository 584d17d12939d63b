"""core.pause, the pack's Python action."""

from unittest import mock

from pause import PauseAction
from st2tests.base import BaseActionTestCase


class PauseActionTestCase(BaseActionTestCase):
    action_cls = PauseAction

    def test_waits_max_pause_seconds(self):
        with mock.patch("pause.time.sleep") as sleep:
            self.assertEqual(self.get_action_instance().run(max_pause=3), 3)
        sleep.assert_called_once_with(3)

    def test_a_random_pause_is_a_whole_number_from_1_to_max_pause(self):
        with mock.patch("pause.time.sleep"):
            delays = {self.get_action_instance().run(max_pause=3, random=True) for _ in range(60)}
        self.assertLessEqual(delays, {1, 2, 3})

    def test_random_with_nothing_to_pick_from_waits_max_pause(self):
        with mock.patch("pause.time.sleep") as sleep:
            self.assertEqual(self.get_action_instance().run(max_pause=0, random=True), 0)
        sleep.assert_called_once_with(0)
