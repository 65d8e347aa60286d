import numpy as np
from datatrove.pipeline.dedup.minhash import MinhashDedupSignature

from alchemist.recipe import NearDedupSpec
from alchemist.rules.near import CodeWordTokenizer, MinhashSignature, minhash_config, optimal_bands

TEXTS = [
    "def add(a, b):\n    return a + b  # sum of two numbers",
    "Écrire une fonction qui renvoie la moyenne des éléments d'une liste non vide.",
    "short text",
    "x = [i * i for i in range(10) if i % 2 == 0]\nprint(x)",
]


def steps(tmp_path):
    config = minhash_config(NearDedupSpec(), seed=0)
    ours = MinhashSignature(str(tmp_path / "a"), config=config, language=CodeWordTokenizer())
    theirs = MinhashDedupSignature(str(tmp_path / "b"), config=config, language=CodeWordTokenizer())
    return ours, theirs


def test_same_shingles_as_datatrove_up_to_the_hash(tmp_path):
    ours, theirs = steps(tmp_path)
    for text in TEXTS:
        a, b = ours.get_shingles(text), theirs.get_shingles(text)
        assert a.shape == b.shape  # the same n-grams of the same simplified, tokenized text
        # equal n-grams hash equally: the number of distinct values matches
        assert len(np.unique(a)) == len(np.unique(b))


def test_signature_similarity_tracks_jaccard(tmp_path):
    ours, _ = steps(tmp_path)
    rng = np.random.default_rng(0)
    words = ["".join(rng.choice(list("abcdefghij"), 6)) for _ in range(600)]  # no digits: datatrove folds them
    base = " ".join(words[:300])
    edited = base.replace(words[150], "changed").replace(words[10], "other")
    sa, sb = (np.concatenate(ours.get_signature(ours.get_shingles(t))) for t in (base, edited))
    unrelated = np.concatenate(ours.get_signature(ours.get_shingles(" ".join(words[300:]))))
    assert (sa == sb).mean() > 0.85
    assert (sa == unrelated).mean() < 0.05


def test_bands_follow_threshold():
    assert optimal_bands(0.7, 112) == (12, 9)
    b, r = optimal_bands(0.9, 112)
    assert (1 / b) ** (1 / r) > (1 / 12) ** (1 / 9)  # a higher threshold gives a higher LSH knee
    config = minhash_config(NearDedupSpec(threshold=0.8, num_buckets=14, hashes_per_bucket=8), seed=0)
    assert (config.num_buckets, config.hashes_per_bucket) == (14, 8)
