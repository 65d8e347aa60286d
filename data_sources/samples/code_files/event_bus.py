"""In-process publish/subscribe event bus with wildcard topics.

Topics are dot-separated ("order.created"). A subscription pattern may use
"*" for exactly one segment and "#" (last segment only) for any remainder.
"""

import logging
from collections import defaultdict

log = logging.getLogger(__name__)


def topic_matches(pattern, topic):
    p_parts, t_parts = pattern.split("."), topic.split(".")
    for i, part in enumerate(p_parts):
        if part == "#":
            return i == len(p_parts) - 1
        if i >= len(t_parts) or (part != "*" and part != t_parts[i]):
            return False
    return len(p_parts) == len(t_parts)


class EventBus:
    def __init__(self):
        self._subscribers = defaultdict(list)

    def subscribe(self, pattern, handler):
        self._subscribers[pattern].append(handler)

        def unsubscribe():
            self._subscribers[pattern].remove(handler)

        return unsubscribe

    def publish(self, topic, payload=None):
        """Call every matching handler; return the number of handlers run.

        A failing handler is logged and does not stop the others.
        """
        delivered = 0
        for pattern, handlers in list(self._subscribers.items()):
            if not topic_matches(pattern, topic):
                continue
            for handler in list(handlers):
                try:
                    handler(topic, payload)
                except Exception:
                    log.exception("handler %r failed for %s", handler, topic)
                delivered += 1
        return delivered


if __name__ == "__main__":
    bus = EventBus()
    bus.subscribe("order.*", lambda t, p: print("order event", t, p))
    bus.subscribe("#", lambda t, p: print("audit", t))
    bus.publish("order.created", {"id": 42})
    bus.publish("user.deleted")
