"""``demo``: learn the synthetic arena's known gold reward from noisy preferences, as
``rewardlab demo`` does.

::

    from rewardlab.verbs.demo import DemoSpec, demo
    result = demo(DemoSpec(out="runs/demo", config=DemoConfig(backbone="hashing")))
    result.results["test_vs_gold_order"]["accuracy"]

The experiment is :func:`rewardlab.lab.demo.run_demo`; the verb checks the
output folder first, then writes the model (``out/model``), ``report.json`` and
``summary.md`` (each atomically) and returns them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rewardlab.lab.demo import DemoConfig
from rewardlab.options import option

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class DemoSpec:
    """Where the demo writes and what it runs (:class:`~rewardlab.lab.demo.DemoConfig`)."""

    out: Path = option(Path("runs/demo"), "Folder for the model and the report.")
    config: DemoConfig = option(default_factory=DemoConfig, cli=False,
                                help="The arena, the labels and the backbone.")


@dataclass
class DemoResult:
    """The trained model, the report (as ``report.json``), its Markdown summary and the
    paths written."""

    model: Any
    results: dict[str, Any]
    summary: str
    written: dict[str, Path]


def demo(spec: DemoSpec, progress: Progress | None = None) -> DemoResult:
    """Check ``spec.out``, run the demo, save the model and write the report;
    ``progress(phase, done, total)`` as :func:`~rewardlab.lab.demo.run_demo` calls it."""
    from rewardlab.atomic import write_json_atomic, write_text_atomic
    from rewardlab.lab.demo import run_demo, summary_text
    from rewardlab.models.io import save_model
    from rewardlab.verbs.outputs import check_model_out, check_out_folder

    out = Path(spec.out)
    check_out_folder(out, files=("report.json", "summary.md"))
    check_model_out(out / "model", overwrite=False, option="--out")
    model, results = run_demo(spec.config, progress)
    save_model(model, out / "model", results)
    write_json_atomic(out / "report.json", results)
    text = summary_text(results)
    write_text_atomic(out / "summary.md", text)
    written = {"model": out / "model", "report.json": out / "report.json",
               "summary.md": out / "summary.md"}
    return DemoResult(model, results, text, written)
