"""The LLM judge decides doubtful candidates; its verdict and reason are recorded."""

from alchemist.llm.types import ChatResult
from alchemist.rules.judge import Judge, parse
from alchemist.rules.spec import DecontaminateSpec, JudgeSpec
from alchemist.schema import Sample
from alchemist.testsets import load_benchmark


class FakeClient:
    def __init__(self, answer):
        self.answer = answer
        self.requests = []

    def ask(self, prompts, max_tokens, temperature=0.0):
        self.requests += prompts
        return [ChatResult(texts=[self.answer], finish_reasons=["stop"]) for _ in prompts]


def test_parse_reads_verdict_and_reason():
    assert parse("VERDICT: yes\nREASON: same task, renamed") == (True, "same task, renamed")
    assert parse("verdict: No\nreason: different output") == (False, "different output")
    assert parse("I am not sure")[0] is None


def doubtful_case():
    p = load_benchmark("humaneval")[0]
    sample = Sample(source="t", messages=[{"role": "user", "content": "Check whether two numbers in a list are close."},
                                          {"role": "assistant", "content": "```python\nprint(1)\n```"}])
    return p, sample, [[]], [[{"task_id": p.task_id, "field": "embedding", "overlap": 0.7, "signal": "embedding"}]]


def test_a_yes_makes_the_sample_contaminated_with_the_reason():
    p, sample, found, doubtful = doubtful_case()
    client = FakeClient("VERDICT: yes\nREASON: the same problem, reworded")
    Judge(client, JudgeSpec()).decide([sample], found, doubtful, {p.task_id: p})
    assert len(client.requests) == 1 and p.prompt[:40] in client.requests[0]
    assert found[0][0]["signal"] == "judge" and found[0][0]["judge"] == {"verdict": "same", "reason": "the same problem, reworded"}


def test_a_no_leaves_it_clean_and_annotates_the_near_miss():
    p, sample, found, doubtful = doubtful_case()
    Judge(FakeClient("VERDICT: no\nREASON: other task"), JudgeSpec()).decide([sample], found, doubtful, {p.task_id: p})
    assert found == [[]] and doubtful[0][0]["judge"]["verdict"] == "different"


def test_the_decontaminator_asks_the_judge_only_for_doubtful_samples():
    from alchemist.rules.decontaminate import build_index, contamination_batch

    problems = load_benchmark("humaneval")[:20]
    spec = DecontaminateSpec.model_validate({"embedding": False, "structure": {"threshold": 1.0}, "judge": {"margin": 0.5}})
    client = FakeClient("VERDICT: yes\nREASON: same")
    index = build_index(problems, spec, client=client)
    p = problems[0]
    code = p.solution.replace("return False", "")
    for old, new in (("elem", "e"), ("idx", "i"), ("distance", "d"), ("numbers", "ns"), ("threshold", "t")):
        code = code.replace(old, new)  # renamed: no 13-gram left, the structure alone is doubtful
    near = Sample(source="t", messages=[{"role": "user", "content": "Solve it."},
                                        {"role": "assistant", "content": f"```python\n{code}\n```"}])
    clean = Sample(source="t", messages=[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello there."}])
    (d_near, _), (d_clean, _) = contamination_batch([near, clean], index)
    assert d_near["matches"][0]["signal"] == "judge" and d_clean is None
    assert len(client.requests) == 1


def test_the_judge_as_a_pass_of_its_own():
    from alchemist.rules.judge import judge_near_misses

    p, sample, _, doubtful = doubtful_case()
    clean = Sample(source="t", messages=[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}])
    out = judge_near_misses([sample, clean], doubtful + [[]], [p], FakeClient("VERDICT: yes\nREASON: same"), JudgeSpec())
    assert out[0]["matches"][0]["judge"]["verdict"] == "same" and out[1] is None


def test_calibrated_candidates_reach_the_judge_nearest_by_embedding_first():
    problems = load_benchmark("humaneval")[:2]
    sample = Sample(source="t", messages=[{"role": "user", "content": "Check two numbers."},
                                          {"role": "assistant", "content": "```python\nprint(1)\n```"}])
    far = {"task_id": problems[0].task_id, "field": "calibrated", "overlap": 0.45, "signal": "calibrated",
           "scores": {"statement": 0.55, "code": 0.5}}
    near = {"task_id": problems[1].task_id, "field": "calibrated", "overlap": 0.42, "signal": "calibrated",
            "scores": {"statement": 0.6, "code": 0.81}}
    client = FakeClient("VERDICT: yes\nREASON: same")
    found = [[]]
    Judge(client, JudgeSpec(max_candidates=1)).decide([sample], found, [[far, near]], {p.task_id: p for p in problems})
    assert len(client.requests) == 1 and f"({problems[1].task_id})" in client.requests[0]
    assert found[0][0]["task_id"] == problems[1].task_id and found[0][0]["field"] == "judge (calibrated)"
