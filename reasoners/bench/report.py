"""The bench's report, rebuilt from the journal alone: the summary table (accuracy over the
answered problems with a 95% Wilson interval, errors, mean tokens (and of them the generated ones,
thinking included: what DeepConf's paper counts), calls, cost, time, how often
the budget ran out), its text and JSON, and the plot of accuracy against tokens."""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path
from typing import Any

__all__ = ["pareto_frontier", "plot_accuracy_vs_tokens", "series_styles", "summarize", "wilson", "write_report"]


def wilson(correct: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval for a proportion."""
    if n == 0:
        return (0.0, 0.0)
    p = correct / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One line per (strategy, budget): strategies in first-seen order, budgets ascending (none last).

    Error rows count in ``errors`` only: accuracy and every mean are over the answered problems.
    """
    groups: dict[tuple[str, Any], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["strategy"], r["budget"]), []).append(r)
    order = {spec: i for i, spec in reversed(list(enumerate(r["strategy"] for r in rows)))}
    table = []
    for spec, budget in sorted(groups, key=lambda k: (order[k[0]], k[1] is None, k[1] or 0)):
        every = groups[(spec, budget)]
        rs = [r for r in every if not r.get("error")]
        n = len(rs)
        correct = sum(1 for r in rs if r["correct"])
        low, high = wilson(correct, n)
        candidates = sum(r["candidates"] for r in rs)
        table.append({
            "strategy": spec,
            "budget": budget,
            "problems": n,
            "errors": len(every) - n,
            "degraded": sum(1 for r in rs if r.get("degraded")),
            "accuracy": correct / n if n else 0.0,
            "ci95": [round(low, 3), round(high, 3)],
            "mean_tokens": sum(r["usage"]["total_tokens"] for r in rs) / max(n, 1),
            "mean_generated": (sum(r["usage"]["completion_tokens"] for r in rs) / max(n, 1)
                               if all("completion_tokens" in r["usage"] for r in rs) else None),
            "mean_calls": sum(r["usage"]["calls"] for r in rs) / max(n, 1),
            "cost": sum(r["usage"]["cost"] for r in rs),
            "mean_seconds": sum(r["seconds"] for r in rs) / max(n, 1),
            "hit_budget": sum(1 for r in rs if r["exhausted"]) / max(n, 1),
            "truncated": (sum(r["truncated"] for r in rs) / candidates) if candidates else 0.0,
            "cache_hits": sum(r["usage"]["cache_hits"] for r in rs),
            **_metric_means(rs),
        })
    return table


def _metric_means(rows: list[dict[str, Any]]) -> dict[str, float]:
    """``mean_<metric>`` over the rows that recorded it (journals from older runs have none)."""
    values: dict[str, list[float]] = {}
    for r in rows:
        for name, value in (r.get("metrics") or {}).items():
            values.setdefault(name, []).append(value)
    return {f"mean_{name}": sum(v) / len(v) for name, v in sorted(values.items())}


_FIXED = ("mean_tokens", "mean_generated", "mean_calls", "mean_seconds")


def write_report(rows: list[dict[str, Any]], out: Path, *, title: str,
                 behaviors: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Write summary.json, summary.md and (with several budgets or strategies) accuracy_vs_tokens.png.

    ``behaviors`` (rates from :func:`reasoners.bench.analyze.behavior_rates`) adds a column per
    behaviour: the share of the samples of that (strategy, budget) that show it."""
    table = summarize(rows)
    if behaviors is not None:
        rates = {(b["strategy"], b["budget"]): b["rates"] for b in behaviors}
        for t in table:
            t.update({name: rate for name, rate in rates.get((t["strategy"], t["budget"]), {}).items()})
    (out / "summary.json").write_text(json.dumps(table, indent=2), encoding="utf-8")
    from .behaviors import BEHAVIORS

    extra = list(dict.fromkeys(k for t in table for k in t
                               if (k.startswith("mean_") and k not in _FIXED) or k in BEHAVIORS))
    lines = [
        f"# {title}",
        "",
        "| strategy | budget/problem | n | errors | accuracy | 95% CI | " + "".join(f"{k} | " for k in extra)
        + "mean tokens | of them generated | mean calls | cost $ | mean s | hit budget | truncated |",
        "|---|---|---|---|---|---|" + "---|" * len(extra) + "---|---|---|---|---|---|---|",
    ]
    for t in table:
        lines.append(
            f"| {t['strategy']} | {t['budget'] or 'none'} | {t['problems']} | {t['errors']} | {t['accuracy']:.1%} "
            f"| {t['ci95'][0]:.1%}-{t['ci95'][1]:.1%} | "
            + "".join(f"{t[k]:.3f} | " if t.get(k) is not None else "- | " for k in extra)
            + f"{t['mean_tokens']:.0f} | {_whole(t['mean_generated'])} | {t['mean_calls']:.1f} "
            f"| {t['cost']:.4f} | {t['mean_seconds']:.1f} | {t['hit_budget']:.0%} | {t['truncated']:.0%} |"
        )
    (out / "summary.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    plot_accuracy_vs_tokens(table, out / "accuracy_vs_tokens.png", title)
    return table


def _whole(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


_MARKERS = "osD^vP*Xph<>8H"


def series_styles(labels: list[str]) -> dict[str, tuple[Any, str]]:
    """A distinct (colour, marker) pair per label, in order: 20 colours, each with its own marker
    per cycle, so no two strategies look alike even past 20 of them."""
    import matplotlib

    colours = matplotlib.colormaps["tab20"].colors  # type: ignore[attr-defined]  # a ListedColormap
    return {label: (colours[i % len(colours)], _MARKERS[(i + i // len(colours)) % len(_MARKERS)])
            for i, label in enumerate(labels)}


def pareto_frontier(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The points no other point beats on both fewer tokens and higher accuracy, by tokens."""
    frontier: list[tuple[float, float]] = []
    for x, y in sorted(points, key=lambda p: (p[0], -p[1])):
        if not frontier or y > frontier[-1][1]:
            frontier.append((x, y))
    return frontier


def plot_accuracy_vs_tokens(table: list[dict[str, Any]], path: Path, title: str) -> dict[str, tuple[Any, str]]:
    """Accuracy (95% intervals) against mean tokens per problem, for every committed plot.

    Tokens on a log axis; a distinct colour and marker per strategy, with the legend
    outside the axes; the accuracy-vs-tokens Pareto frontier as a dashed line; points
    that would sit on the same spot are spread a little sideways so none hides another.
    Returns the style of each strategy.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_strategy: dict[str, list[dict[str, Any]]] = {}
    for t in table:
        if t["problems"]:
            by_strategy.setdefault(t["strategy"], []).append(t)
    styles = series_styles(list(by_strategy))
    spots: dict[tuple[float, float], int] = {}
    for points in by_strategy.values():
        for t in points:
            key = (round(max(t["mean_tokens"], 1.0), -1), round(t["accuracy"], 3))
            spots[key] = spots.get(key, 0) + 1
    seen: dict[tuple[float, float], int] = {}
    fig, ax = plt.subplots(figsize=(9, 4.8))
    for spec, points in by_strategy.items():
        points.sort(key=lambda t: t["mean_tokens"])
        xs, ys = [], []
        for t in points:
            key = (round(max(t["mean_tokens"], 1.0), -1), round(t["accuracy"], 3))
            rank = seen.get(key, 0)
            seen[key] = rank + 1
            xs.append(max(t["mean_tokens"], 1.0) * 1.06 ** (rank - (spots[key] - 1) / 2))
            ys.append(t["accuracy"])
        err = [[t["accuracy"] - t["ci95"][0] for t in points], [t["ci95"][1] - t["accuracy"] for t in points]]
        colour, marker = styles[spec]
        label = "\n".join(textwrap.wrap(spec, 44, break_on_hyphens=False)) or spec  # long specs on lines
        ax.errorbar(xs, ys, yerr=err, marker=marker, color=colour, capsize=3, linestyle="-", label=label,
                    markersize=7, alpha=0.9)
    frontier = pareto_frontier([(max(t["mean_tokens"], 1.0), t["accuracy"]) for ps in by_strategy.values()
                                for t in ps])
    if len(frontier) > 1:
        ax.plot(*zip(*frontier), linestyle="--", color="0.4", linewidth=1, label="Pareto frontier", zorder=0)
    ax.set_xscale("log")
    ax.set_xlabel("mean tokens per problem (log scale)")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1)
    ax.set_title("\n".join(textwrap.wrap(title, 80)), fontsize=10)
    ax.grid(True, which="both", alpha=0.2)
    if by_strategy:  # a run whose every problem failed has nothing to label
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return styles
