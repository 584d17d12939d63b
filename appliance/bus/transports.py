"""Which kombu transport a [messaging] url selects: one table, as kombu's TRANSPORT_ALIASES.

  memory://                        -> the embedded in-process transport (appliance.bus.memory)
  amqp://user:pass@host:5672/vhost -> RabbitMQ through kombu's py-amqp transport (pyamqp:// too)
  amqps://...                      -> the same over TLS

A transport's module is imported only when its scheme is used.
"""

from __future__ import annotations

from appliance import schemes

TRANSPORTS = {
    "memory": "appliance.bus.memory:Transport",
    "amqp": "kombu.transport.pyamqp:Transport",
    "amqps": "kombu.transport.pyamqp:SSLTransport",
    "pyamqp": "kombu.transport.pyamqp:Transport",
}


class BusError(Exception):
    """The bus cannot work as configured; the message says why in one line."""


def transport_for(url: str) -> type:
    """The kombu Transport class for `url`; BusError for a scheme the table does not have."""
    try:
        return schemes.load(TRANSPORTS, schemes.scheme_of(url, TRANSPORTS))
    except schemes.SchemeError as exc:
        raise BusError(f"[messaging] url: {exc}") from None
