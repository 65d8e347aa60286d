"""evalplus' rules for plus benchmarks, applied in the harness to plain data: the special oracles,
float tolerance, per-input time limits and MBPP+ input types all come from the evalplus package
(imported, not copied); only the order of the checks below mirrors `evalplus.eval.unsafe_execute`,
which runs them inside the candidate's process, where we do not."""

from __future__ import annotations

from functools import lru_cache

from alchemist.errors import UserError

INSTALL = "pip install 'evalplus==0.3.1'"


@lru_cache(maxsize=1)
def evalplus_rules():
    """The pieces of evalplus this module uses (imported once, lazily: it pulls numpy and psutil)."""
    try:
        from evalplus.config import DEFAULT_GT_TIME_LIMIT_FACTOR, DEFAULT_MIN_TIME_LIMIT
        from evalplus.eval import is_floats
        from evalplus.eval._special_oracle import (
            MBPP_OUTPUT_NOT_NONE_TASKS,
            MBPP_OUTPUT_SET_EQ_TASKS,
            _digit_distance_nums,
            _poly,
            _surface_Area,
        )
    except ImportError as e:
        raise UserError(f"plus benchmarks are scored with evalplus' rules, and evalplus is not installed ({e}): "
                        f"{INSTALL}") from None
    return {"time_factor": DEFAULT_GT_TIME_LIMIT_FACTOR, "min_time": DEFAULT_MIN_TIME_LIMIT, "is_floats": is_floats,
            "not_none": tuple(MBPP_OUTPUT_NOT_NONE_TASKS), "set_eq": tuple(MBPP_OUTPUT_SET_EQ_TASKS),
            "digit_distance_nums": _digit_distance_nums, "poly": _poly, "surface_Area": _surface_Area}


def dataset_of(task_id: str) -> str | None:
    """evalplus' dataset name for a task ("humaneval", "mbpp"), which selects its special oracles;
    None for a user's own plus-format file."""
    head = task_id.split("/")[0].lower()
    return head if head in ("humaneval", "mbpp") else None


def plus_inputs(task_id: str, inputs: list) -> list:
    """MBPP+ inputs with the tuples and sets JSON cannot hold (evalplus' mbpp_deserialize_inputs)."""
    if dataset_of(task_id) != "mbpp" or not inputs:
        return inputs
    try:
        from evalplus.data.mbpp import mbpp_deserialize_inputs
    except ImportError as e:
        raise UserError(f"MBPP+ inputs are read with evalplus ({e}): {INSTALL}") from None
    return mbpp_deserialize_inputs(task_id, inputs)


def expected_outputs(task_id: str, entry_point: str, outputs: list) -> list:
    """The reference's outputs as evalplus keeps them (trusted_exec's output_not_none)."""
    if dataset_of(task_id) == "mbpp" and entry_point in evalplus_rules()["not_none"]:
        return [o is not None for o in outputs]
    return outputs


def time_limits(ref_seconds: list[float]) -> list[float]:
    """Per input: max(min_time_limit, factor x the reference's time), as evalplus' untrusted_check."""
    rules = evalplus_rules()
    return [max(rules["min_time"], rules["time_factor"] * t) for t in ref_seconds]


def part_timeout(limits: list[float]) -> float:
    """The whole run's limit for one part (base or plus): evalplus' min(60, sum) + 1."""
    return min(60.0, sum(limits)) + 1.0


def judge(dataset: str | None, entry_point: str, inputs: list, expected: list, outputs: list, atol: float):
    """Index of the first input whose output fails evalplus' comparison (None: all match), in the
    order of unsafe_execute's checks. `outputs` are decoded plain values (missing: a sentinel the
    caller never passes here). `atol` carries over from input to input, as there."""
    rules = evalplus_rules()
    for i, (inp, exp, out) in enumerate(zip(inputs, expected, outputs)):
        try:
            ok, atol = _matches(rules, dataset, entry_point, inp, exp, out, atol)
        except Exception:
            ok = False
        if not ok:
            return i
    return None


def _matches(rules, dataset, entry_point, inp, exp, out, atol) -> tuple[bool, float]:
    exact = out == exp
    if dataset == "mbpp":
        if entry_point == "are_equivalent":  # Mbpp/164
            exact = True
        elif entry_point == "sum_div":  # Mbpp/295
            exact = exact or out == 0
        elif entry_point == "surface_Area":  # Mbpp/581
            exact = exact or abs(out - rules["surface_Area"](*inp)) <= atol
        elif entry_point == "digit_distance_nums":  # Mbpp/558
            exact = exact or out == rules["digit_distance_nums"](*inp)
        elif entry_point in rules["set_eq"]:
            exact = set(out) == set(exp)
        elif entry_point in rules["not_none"]:
            exact = out == exp if isinstance(out, bool) else exp == (out is not None)
    if dataset == "humaneval" and entry_point == "find_zero":  # HumanEval/32: a root, whichever
        return bool(abs(rules["poly"](*inp, out)) <= atol), atol
    if atol == 0 and rules["is_floats"](exp):
        atol = 1e-6
    if not exact and atol != 0:
        import numpy as np

        if type(out) is not type(exp):
            return False, atol
        if isinstance(exp, (list, tuple)) and len(out) != len(exp):
            return False, atol
        return bool(np.allclose(out, exp, rtol=1e-07, atol=atol)), atol
    return bool(exact), atol
