"""Plot the latency a user feels, per turn, from ``pipeline_latency.py --json``.

::

    python benchmarks/pipeline_latency.py --json lat.json --plot benchmarks/latency_breakdown.png
    python benchmarks/plot_latency.py latency.json benchmarks/latency_breakdown.png

One stacked bar per answered turn, from the end of the voice to the first reply audio at
the client: the time until the VAD marked the end of speech (and the network), the endpoint
(the pause the VAD waits for plus the turn detector) and what came after the turn ended.
A hatched bar on top shows what preparing the reply during the pause saved (the reply would
have come that much later). Turns sorted by felt latency; a bar of the medians beside the
target line. Needs matplotlib (``pip install -e ".[bench]"``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

STAGES = ["lag_ms", "endpoint_ms", "after_ms"]
LABELS = {
    "lag_ms": "end of voice → VAD end mark (+ network)",
    "endpoint_ms": "endpoint (VAD pause + turn detector)",
    "after_ms": "turn ended → first audio",
    "saved_ms": "saved by preparing the reply during the pause",
}
COLORS = {"lag_ms": "#9a9a9a", "endpoint_ms": "#5b8def", "after_ms": "#57b36b",
          "saved_ms": "#c75d9b"}


def _stages(turn: dict[str, Any]) -> dict[str, float] | None:
    felt, e2e, endpoint = (turn.get(k) for k in ("felt_ms", "e2e_ms", "endpoint_ms"))
    if felt is None or e2e is None or endpoint is None:
        return None
    return {"lag_ms": max(0.0, felt - e2e), "endpoint_ms": max(0.0, endpoint),
            "after_ms": max(0.0, e2e - endpoint),
            "saved_ms": float(turn.get("speculation_saved_ms") or 0.0), "felt_ms": felt}


def plot(data: dict[str, Any], out: Path) -> Path:
    """Write the breakdown of ``data`` (the ``--json`` output) to ``out`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    turns = [t for t in (_stages(t) for t in data["turns"]) if t is not None]
    if not turns:
        raise ValueError("no answered turn with a felt latency in the data")
    turns.sort(key=lambda t: t["felt_ms"])
    medians = {s: statistics.median(t[s] for t in turns) for s in [*STAGES, "saved_ms"]}
    target = float(data.get("target_ms", 500.0))

    fig, ax = plt.subplots(figsize=(11, 5.2), dpi=110)
    xs = list(range(len(turns)))
    median_x = len(turns) + 1
    for x_values, rows in ((xs, turns), ([median_x], [medians])):
        bottom = [0.0] * len(rows)
        for stage in [*STAGES, "saved_ms"]:
            heights = [max(0.0, float(r[stage])) for r in rows]
            ax.bar(x_values, heights, bottom=bottom, color=COLORS[stage], width=0.75,
                   hatch="//" if stage == "saved_ms" else None,
                   alpha=0.35 if stage == "saved_ms" else 1.0,
                   label=LABELS[stage] if rows is turns else None)
            bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    ax.axhline(target, color="#d33", linestyle="--", linewidth=1)
    ax.text(median_x + 0.45, target + 10, f"target {target:.0f} ms", color="#d33",
            fontsize=9, ha="right")
    felt_median = statistics.median(t["felt_ms"] for t in turns)
    ax.set_xticks([*xs, median_x])
    ax.set_xticklabels([str(i + 1) for i in xs] + ["median\nper stage"], fontsize=8)
    ax.set_xlabel("answered turns, sorted by felt latency")
    ax.set_ylabel("ms from the end of the voice")
    ax.set_title(f"{data.get('title', 'End of the voice → first reply audio')}\n"
                 f"median {felt_median:.0f} ms over {len(turns)} turns; preparing the reply "
                 f"during the pause saved a median {medians['saved_ms']:.0f} ms", fontsize=10)
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="JSON written by pipeline_latency.py --json")
    parser.add_argument("out", type=Path, help="PNG to write")
    args = parser.parse_args(argv)
    try:
        data = json.loads(args.data.read_text(encoding="utf-8"))
        print(f"wrote {plot(data, args.out)}")
    except (OSError, ValueError, KeyError) as exc:
        print(f"plot_latency: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
