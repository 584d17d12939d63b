"""The message bus: kombu, with the transport chosen by [messaging] url (memory:// embedded,
amqp://user:pass@host:5672/vhost in production)."""

from appliance.bus.bus import Bus, Subscription
from appliance.bus.names import RUN, SCHEDULE, Names

__all__ = ["Bus", "Subscription", "Names", "RUN", "SCHEDULE"]
