"""The message bus: kombu, with the transport chosen by [messaging] url's scheme (memory:// embedded,
amqp://user:pass@host:5672/vhost in production; the table is appliance.bus.transports)."""

from appliance.bus.bus import Bus, Subscription
from appliance.bus.names import RUN, SCHEDULE, Names
from appliance.bus.transports import BusError

__all__ = ["Bus", "BusError", "Subscription", "Names", "RUN", "SCHEDULE"]
