"""st2auth: tokens from htpasswd credentials on [auth] port (9100)."""

from __future__ import annotations

import falcon

from appliance.api.app import auth_app
from appliance.services.base import HttpService, run_service


class AuthService(HttpService):
    name = "st2auth"
    section = "auth"
    threads = 8

    def app(self) -> falcon.App:
        return auth_app(self.ctx)


def main() -> None:
    run_service(AuthService)


if __name__ == "__main__":
    main()
