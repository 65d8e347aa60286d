"""Prefix tree supporting insert, exact lookup, prefix queries and deletion."""


class Trie:
    __slots__ = ("children", "terminal", "count")

    def __init__(self):
        self.children = {}
        self.terminal = False
        self.count = 0  # number of words stored below (and at) this node

    def insert(self, word):
        if word in self:
            return False
        node = self
        node.count += 1
        for ch in word:
            node = node.children.setdefault(ch, Trie())
            node.count += 1
        node.terminal = True
        return True

    def _find(self, prefix):
        node = self
        for ch in prefix:
            node = node.children.get(ch)
            if node is None:
                return None
        return node

    def __contains__(self, word):
        node = self._find(word)
        return node is not None and node.terminal

    def count_prefix(self, prefix):
        node = self._find(prefix)
        return node.count if node else 0

    def words_with_prefix(self, prefix=""):
        node = self._find(prefix)
        if node is None:
            return []
        out, stack = [], [(node, prefix)]
        while stack:
            current, text = stack.pop()
            if current.terminal:
                out.append(text)
            for ch in sorted(current.children, reverse=True):
                stack.append((current.children[ch], text + ch))
        return sorted(out)

    def delete(self, word):
        if word not in self:
            return False
        node = self
        node.count -= 1
        for ch in word:
            child = node.children[ch]
            child.count -= 1
            if child.count == 0:
                del node.children[ch]
                return True
            node = child
        node.terminal = False
        return True


if __name__ == "__main__":
    t = Trie()
    for w in ("tea", "ten", "to", "inn", "in"):
        t.insert(w)
    print(t.words_with_prefix("te"), t.count_prefix("t"))
    t.delete("ten")
    print(t.words_with_prefix("t"))
