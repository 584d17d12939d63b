"""st2api: the REST API v1 on [api] port (9101)."""

from __future__ import annotations

import falcon

from appliance.api.app import api_app
from appliance.services.base import HttpService, run_service


class ApiService(HttpService):
    name = "st2api"
    section = "api"

    def app(self) -> falcon.App:
        return api_app(self.ctx)


def main() -> None:
    run_service(ApiService)


if __name__ == "__main__":
    main()
