"""The leaderboard: eval results (and the paper's reference rows) as markdown, a self-contained
HTML page (sortable table, bar chart), JSON and a PNG plot."""

from __future__ import annotations

import html
import json
from pathlib import Path

from alchemist.errors import UserError

BENCHMARKS = ("humaneval", "humaneval_plus", "mbpp", "mbpp_plus")
TITLES = {"humaneval": "HumanEval", "humaneval_plus": "HumanEval+", "mbpp": "MBPP", "mbpp_plus": "MBPP+"}


def find_results(paths: list[str]) -> list[Path]:
    """results.json files: given directly, or anywhere below given folders (e.g. a run directory)."""
    found: list[Path] = []
    for text in paths:
        p = Path(text)
        if p.is_file():
            found.append(p)
        elif p.is_dir():
            found += sorted(p.rglob("results.json"))
        else:
            raise UserError(f"{p}: no such results file or folder")
    if not found:
        raise UserError(f"no results.json under {', '.join(paths)}")
    return found


def collect(paths: list[Path], with_reference: bool = True) -> dict:
    rows: dict[str, dict] = {}
    for path in paths:
        try:
            r = json.loads(path.read_text())
            model, bench, score = r["model"], r["benchmark"], r["pass_at_k"]["pass@1"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise UserError(f"{path}: not an alchemist results.json ({e})") from None
        row = rows.setdefault(model, {"model": model, "params": "", "reference": False, "scores": {}, "sources": {}})
        row["scores"][bench] = round(100 * score, 1)
        row["sources"][bench] = str(path)
        if r.get("tasks_scored") != r.get("tasks_in_benchmark"):
            row.setdefault("partial", {})[bench] = f"{r.get('tasks_scored')}/{r.get('tasks_in_benchmark')} tasks"
    reference = json.loads((Path(__file__).parent / "reference.json").read_text())
    if with_reference:
        for ref in reference["rows"]:
            rows.setdefault(ref["model"], {"model": ref["model"], "params": ref["params"], "reference": True,
                                           "scores": dict(zip(reference["benchmarks"], ref["scores"])), "sources": {}})
    benchmarks = [b for b in BENCHMARKS if any(b in r["scores"] for r in rows.values())]
    benchmarks += sorted({b for r in rows.values() for b in r["scores"]} - set(benchmarks))
    for row in rows.values():
        scores = [row["scores"][b] for b in benchmarks if b in row["scores"]]
        row["average"] = round(sum(scores) / len(scores), 1) if scores else None
    ordered = sorted(rows.values(), key=lambda r: -(r["average"] or 0))
    return {"benchmarks": benchmarks, "rows": ordered, "reference_source": reference["source"]}


def to_markdown(board: dict) -> str:
    heads = ["#", "model", "params", *[TITLES.get(b, b) for b in board["benchmarks"]], "average"]
    lines = ["# Leaderboard (pass@1, %)", "", "| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    for i, r in enumerate(board["rows"], 1):
        name = f"{r['model']} *(reference)*" if r["reference"] else f"**{r['model']}**"
        cells = [str(r["scores"].get(b, "–")) for b in board["benchmarks"]]
        lines.append("| " + " | ".join([str(i), name, r["params"] or "", *cells, str(r["average"] or "–")]) + " |")
    lines += ["", f"Reference rows: {board['reference_source']}.", ""]
    return "\n".join(lines)


def to_html(board: dict) -> str:
    data = json.dumps(board).replace("</", "<\\/")
    return (Path(__file__).parent / "page.html").read_text().replace("/*DATA*/null", data).replace(
        "{{TITLE}}", html.escape("alchemist leaderboard"))


def to_png(board: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, benches = board["rows"], board["benchmarks"]
    fig, ax = plt.subplots(figsize=(max(8, 0.9 * len(rows) + 2), 5))
    width = 0.8 / max(1, len(benches))
    for j, b in enumerate(benches):
        xs = [i + j * width for i in range(len(rows))]
        ax.bar(xs, [r["scores"].get(b, 0) for r in rows], width, label=TITLES.get(b, b))
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(rows))])
    ax.set_xticklabels([r["model"] + (" (ref)" if r["reference"] else "") for r in rows], rotation=35, ha="right", fontsize=8)
    ax.set_ylabel("pass@1 (%)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=8)
    ax.set_title("pass@1 by benchmark")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_leaderboard(paths: list[str], out_dir: Path, with_reference: bool = True) -> dict:
    board = collect(find_results(paths), with_reference)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "leaderboard.json").write_text(json.dumps(board, indent=2) + "\n")
    (out_dir / "leaderboard.md").write_text(to_markdown(board))
    (out_dir / "index.html").write_text(to_html(board))
    to_png(board, out_dir / "pass_at_1.png")
    return board
