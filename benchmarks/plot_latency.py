"""Plot the end-to-end latency breakdown written by ``pipeline_latency.py --json``.

::

    python benchmarks/pipeline_latency.py --json lat.json --plot benchmarks/latency_breakdown.png
    python benchmarks/plot_latency.py latency.json benchmarks/latency_breakdown.png

One stacked bar per answered turn (end of user speech → first reply audio, split into the
endpoint wait, the ASR final, the LLM's first token, the first TTS chunk and the rest),
turns sorted by their end-to-end time, plus one bar of the per-stage medians beside the
700 ms target line, so the stage that eats the time is visible at a glance.
Needs matplotlib (``pip install -e ".[bench]"``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

STAGES = ["endpoint_ms", "asr_ms", "llm_first_token_ms", "tts_first_chunk_ms", "other_ms"]
LABELS = {
    "endpoint_ms": "endpoint wait (VAD silence + turn policy)",
    "asr_ms": "ASR final",
    "llm_first_token_ms": "LLM first token",
    "tts_first_chunk_ms": "first TTS chunk",
    "other_ms": "other (hand-offs)",
}
COLORS = {
    "endpoint_ms": "#5b8def",
    "asr_ms": "#f0a23b",
    "llm_first_token_ms": "#57b36b",
    "tts_first_chunk_ms": "#c75d9b",
    "other_ms": "#9a9a9a",
}


def plot(data: dict[str, Any], out: Path) -> Path:
    """Write the breakdown of ``data`` (the ``--json`` output) to ``out`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    turns = [t for t in data["turns"] if all(t.get(s) is not None for s in STAGES)]
    if not turns:
        raise ValueError("no answered turn with a complete breakdown in the data")
    turns.sort(key=lambda t: sum(t[s] for s in STAGES))
    medians = {s: statistics.median(t[s] for t in turns) for s in STAGES}
    target = float(data.get("target_ms", 700.0))

    fig, ax = plt.subplots(figsize=(11, 5.2), dpi=110)
    xs = list(range(len(turns)))
    median_x = len(turns) + 1
    for x_values, rows in ((xs, turns), ([median_x], [medians])):
        bottom = [0.0] * len(rows)
        for stage in STAGES:
            heights = [max(0.0, float(r[stage])) for r in rows]
            ax.bar(x_values, heights, bottom=bottom, color=COLORS[stage], width=0.75,
                   label=LABELS[stage] if rows is turns else None)
            bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    ax.axhline(target, color="#d33", linestyle="--", linewidth=1)
    ax.text(median_x + 0.45, target + 10, f"target {target:.0f} ms", color="#d33",
            fontsize=9, ha="right")
    e2e_median = statistics.median(float(t["e2e_ms"]) for t in turns)
    ax.set_xticks([*xs, median_x])
    ax.set_xticklabels([str(i + 1) for i in xs] + ["median\nper stage"], fontsize=8)
    ax.set_xlabel("answered turns, sorted by end-to-end latency")
    ax.set_ylabel("ms from end of user speech")
    largest = max(STAGES, key=lambda s: medians[s])
    ax.set_title(f"{data.get('title', 'End of user speech → first reply audio')}\n"
                 f"median e2e {e2e_median:.0f} ms over {len(turns)} turns; largest stage: "
                 f"{LABELS[largest]} ({medians[largest]:.0f} ms)", fontsize=10)
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
