"""A small LRU cache built on a dict plus a doubly linked list.

Both get() and put() run in O(1). The cache can also be used as a decorator
for single-argument functions via LRUCache.memoize().
"""

from functools import wraps


class _Node:
    __slots__ = ("key", "value", "prev", "next")

    def __init__(self, key=None, value=None):
        self.key = key
        self.value = value
        self.prev = self.next = None


class LRUCache:
    def __init__(self, capacity: int):
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._map = {}
        self._head = _Node()  # most recently used side
        self._tail = _Node()  # least recently used side
        self._head.next, self._tail.prev = self._tail, self._head
        self.hits = self.misses = 0

    def _unlink(self, node):
        node.prev.next, node.next.prev = node.next, node.prev

    def _push_front(self, node):
        node.prev, node.next = self._head, self._head.next
        self._head.next.prev = node
        self._head.next = node

    def get(self, key, default=None):
        node = self._map.get(key)
        if node is None:
            self.misses += 1
            return default
        self.hits += 1
        self._unlink(node)
        self._push_front(node)
        return node.value

    def put(self, key, value):
        node = self._map.get(key)
        if node is not None:
            node.value = value
            self._unlink(node)
            self._push_front(node)
            return
        if len(self._map) >= self.capacity:
            lru = self._tail.prev
            self._unlink(lru)
            del self._map[lru.key]
        node = _Node(key, value)
        self._map[key] = node
        self._push_front(node)

    def __contains__(self, key):
        return key in self._map

    def __len__(self):
        return len(self._map)

    def keys(self):
        """Keys from most to least recently used."""
        node, out = self._head.next, []
        while node is not self._tail:
            out.append(node.key)
            node = node.next
        return out

    def memoize(self, func):
        sentinel = object()

        @wraps(func)
        def wrapper(arg):
            value = self.get(arg, sentinel)
            if value is sentinel:
                value = func(arg)
                self.put(arg, value)
            return value

        return wrapper


if __name__ == "__main__":
    cache = LRUCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.get("a")
    cache.put("c", 3)
    print(cache.keys())  # ['c', 'a']
