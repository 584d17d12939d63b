"""core.pause: sleep, then return how long it slept."""

import random as _random
import time

from st2common.runners.base_action import Action


class PauseAction(Action):
    def run(self, max_pause, random=False):
        delay = _random.randint(1, int(max_pause)) if random and int(max_pause) >= 1 else max_pause
        time.sleep(delay)
        return delay
