"""The leaderboard: eval results (and the paper's reference rows) as markdown, a self-contained
HTML page (sortable table, bar chart), JSON and a PNG plot."""

from __future__ import annotations

import html
import json
from pathlib import Path

from alchemist.errors import UserError
from alchemist.rundir.ownership import Owned, check_overlap
from alchemist.testsets.ranking import collect, find_results, read_result

__all__ = ["collect", "find_results", "read_result", "to_html", "to_markdown", "to_png", "write_leaderboard"]


def _cell(row: dict, bench: str) -> str:
    if bench not in row["scores"]:
        return "–"
    delta = row.get("delta", {}).get(bench)
    return f"{row['scores'][bench]}" + (f" ({delta:+.1f})" if delta is not None else "")


def to_markdown(board: dict) -> str:
    heads = ["#", "model", "params", *[board["titles"].get(b, b) for b in board["benchmarks"]], "average"]
    lines = ["# Leaderboard (pass@1, %)", "", "| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    for i, r in enumerate(board["rows"], 1):
        name = f"{r['model']} *(reference)*" if r["reference"] else f"**{r['model']}**"
        cells = [_cell(r, b) for b in board["benchmarks"]]
        average = "–" if r["average"] is None else str(r["average"])
        lines.append("| " + " | ".join([str(i), name, r["params"] or "", *cells, average]) + " |")
    if board.get("baseline"):
        lines += ["", f"(+x.x): difference from {board['baseline']}, in points."]
    lines += [""] + [f"Note: {note}." for note in board.get("notes", [])]
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
        ax.bar(xs, [r["scores"].get(b, 0) for r in rows], width, label=board["titles"].get(b, b))
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(rows))])
    ax.set_xticklabels([r["model"] + (" (ref)" if r["reference"] else "") for r in rows], rotation=35, ha="right", fontsize=8)
    ax.set_ylabel("pass@1 (%)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=8)
    ax.set_title("pass@1 by benchmark")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _check_out_dir(out_dir: Path) -> None:
    for p in (out_dir, *out_dir.parents):
        if p.exists():
            if not p.is_dir():
                raise UserError(f"{p}: exists and is a file; -o needs a folder for the leaderboard's files")
            return


WRITES = ("leaderboard.json", "leaderboard.md", "index.html", "pass_at_1.png")


def write_leaderboard(paths: list[str], out_dir: Path, with_reference: bool = True, baseline: str | None = None) -> dict:
    out_dir = Path(out_dir)
    files = find_results(paths)
    # the folder must be new, empty or alchemist's, hold no results it reads, and only its own files are replaced
    check_overlap(out_dir, [("results file", f) for f in files], "-o")
    _check_out_dir(out_dir)
    board = collect(files, with_reference, baseline)
    owned = Owned(out_dir, "-o").claim()
    owned.check(*WRITES)
    owned.wrote(*WRITES)
    (out_dir / "leaderboard.json").write_text(json.dumps(board, indent=2) + "\n")
    (out_dir / "leaderboard.md").write_text(to_markdown(board))
    (out_dir / "index.html").write_text(to_html(board))
    to_png(board, out_dir / "pass_at_1.png")
    return board
