"""StackStorm's http-request runner (core.http)."""
