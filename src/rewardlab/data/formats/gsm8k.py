"""GSM8K model solutions: a reference solution against a question's wrong model solutions.

Cobbe et al., "Training Verifiers to Solve Math Word Problems", 2021
(https://github.com/openai/grade-school-math). A row of
``example_model_solutions.jsonl`` is ``{question, ground_truth, 6b_finetuning,
6b_verification, 175b_finetuning, 175b_verification}``, each model entry
``{is_correct, solution}``. One record per question with at least one wrong
model solution: responses ``(ground_truth, wrong_1, …, wrong_k)`` (distinct
wrong solutions, in the column order above), ``ranking=(0,)``: the reference
beats every one of them, as in RewardMATH's one-to-many evaluation (Kim et
al., 2024; :mod:`rewardlab.evaluate.one_to_many`). Questions whose model
solutions are all correct have nothing to reject and are skipped.
"""

from __future__ import annotations

from rewardlab.data.errors import DataError
from rewardlab.data.formats._base import FORMATS, Rows, detected_by, has_keys, require, require_str
from rewardlab.data.record import Comparison

MODEL_KEYS = ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification")
DETECT_KEYS = frozenset({"question", "ground_truth"})


@FORMATS.register("gsm8k")
@detected_by(90, has_keys(*DETECT_KEYS))  # the model-solutions file
def load_gsm8k(rows: Rows, path: str) -> list[Comparison]:
    """One group (reference, wrong solutions…) per question that has a wrong solution."""
    groups: list[Comparison] = []
    for line, row in rows:
        question = require_str(row, "question", path, line)
        reference = require_str(row, "ground_truth", path, line)
        wrong: list[str] = []
        for key in MODEL_KEYS:
            if key not in row:
                continue
            solution = require(row, key, path, line)
            if not isinstance(solution, dict) or not {"is_correct", "solution"} <= set(solution):
                raise DataError("expected {is_correct, solution}", path=path, line=line, field=key)
            if not solution["is_correct"] and solution["solution"] not in wrong:
                wrong.append(solution["solution"])
        if wrong:
            groups.append(
                Comparison(
                    prompt=question,
                    responses=(reference, *wrong),
                    ranking=(0,),
                    category="gsm8k",
                    source=f"{path}:{line}",
                )
            )
    return groups
