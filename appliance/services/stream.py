"""st2stream: server-sent events on [stream] port (9102)."""

from __future__ import annotations

import os
import socket

import falcon

from appliance.api.stream import Broadcaster, stream_app, subscribe
from appliance.bus.bus import wait_ready
from appliance.services.base import HttpService, run_service


class StreamService(HttpService):
    name = "st2stream"
    section = "stream"
    threads = 64  # one per connected client

    def __init__(self, ctx):
        super().__init__(ctx)
        self.broadcaster = Broadcaster()
        self._subscription = None

    def app(self) -> falcon.App:
        return stream_app(self.ctx, self.broadcaster)

    def start(self) -> None:
        self._subscription = subscribe(self.ctx, self.broadcaster, f"{socket.gethostname()}.{os.getpid()}")
        wait_ready([self._subscription])
        super().start()

    def stop(self) -> None:
        super().stop()
        if self._subscription is not None:
            self._subscription.stop()


def main() -> None:
    run_service(StreamService)


if __name__ == "__main__":
    main()
