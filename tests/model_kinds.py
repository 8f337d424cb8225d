"""One tiny model of each spec kind, and small data files, for the tests of the commands
that load a reward (``eval``, ``compare``, ``data strength``, ``score``, ``serve``).

Kinds: a model rewardlab trained on the hashing backbone (one member, and a two-member
ensemble), a Hugging Face sequence classifier with three named outputs and a chat
template (:mod:`tiny_hf`), a judge (a tiny causal LM), and a transformer fine-tuned by
rewardlab (a classifier saved with ``rewardlab.json``).
"""

from __future__ import annotations

import json
from pathlib import Path

PROMPTS = ["what is the sky", "how can i help the dog", "hello", "why is water blue"]
CHOSEN = ["the sky is blue", "good dog", "hello world", "it is the sky . thanks"]
REJECTED = ["no", "bad", "rude", "the cat"]
LABELS = {0: "helpfulness", 1: "correctness", 2: "verbosity"}


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def pairs_file(folder: Path) -> Path:
    return write_jsonl(folder / "pairs.jsonl", [
        {"prompt": p, "chosen": c, "rejected": r}
        for p, c, r in zip(PROMPTS, CHOSEN, REJECTED, strict=True)])


def rows_file(folder: Path) -> Path:
    """``{prompt, response, solution, answer}`` rows: ``solution`` right for the first two,
    ``answer`` right for the last two (so the reference column changes a math reward)."""
    rows = [{"prompt": p, "response": f"{c} #### {i}", "solution": str(i if i < 2 else 9),
             "answer": str(i if i >= 2 else 9)}
            for i, (p, c) in enumerate(zip(PROMPTS, CHOSEN, strict=True))]
    return write_jsonl(folder / "rows.jsonl", rows)


def pool_file(folder: Path) -> Path:
    """A candidate pool: three responses per prompt with a gold score and the references of
    :func:`rows_file` (``solution`` right for the first two prompts, ``answer`` for the rest)."""
    rows = [{"prompt": p, "response": response, "gold": float(k == 0) - 0.1 * k,
             "solution": str(i if i < 2 else 9), "answer": str(i if i >= 2 else 9)}
            for i, (p, c, r) in enumerate(zip(PROMPTS, CHOSEN, REJECTED, strict=True))
            for k, response in enumerate((f"{c} #### {i}", f"{r} #### {i}", f"{c} {r} #### 7"))]
    return write_jsonl(folder / "pool.jsonl", rows)


def head_model(folder: Path, n_members: int = 1, seed: int = 0) -> Path:
    """A linear head on the hashing backbone, ``n_members`` members, saved by rewardlab."""
    import torch

    from rewardlab.features.hashing import HashingBackbone
    from rewardlab.models.heads import HEADS
    from rewardlab.models.io import save_model
    from rewardlab.models.normalizer import Normalizer
    from rewardlab.models.reward_model import TrainedRewardModel

    torch.manual_seed(seed)
    backbone = HashingBackbone(64)
    config = {"feature_dim": backbone.dim, "n_members": n_members,
              "head": {"name": "linear", "params": {}}, "backbone": backbone.config()}
    model = TrainedRewardModel(backbone, Normalizer(backbone.dim),
                               HEADS.get("linear")(backbone.dim, n_members), config)
    return save_model(model, folder)


def transformer_model(folder: Path, source: Path, max_length: int = 64) -> Path:
    """The classifier in ``source`` as a model rewardlab fine-tuned: its files and the
    ``rewardlab.json`` that ``save_transformer_model`` writes beside them."""
    import shutil

    from rewardlab.models.lm.transformer_rm import CONFIG_NAME, FORMAT, FORMAT_VERSION

    shutil.copytree(source, folder)
    (folder / CONFIG_NAME).write_text(json.dumps(
        {"max_length": max_length, "format": FORMAT, "format_version": FORMAT_VERSION}))
    return folder


def build_kinds(root: Path) -> dict[str, str]:
    """Spec of each kind: ``head``, ``head2`` (two members), ``hf`` (three outputs),
    ``judge``, ``transformer``."""
    from tiny_hf import save_causal_lm, save_decoder_rm

    hf = save_decoder_rm(root / "hf", num_labels=3, id2label=LABELS, seed=2)
    one = save_decoder_rm(root / "hf1", seed=3)
    return {
        "head": str(head_model(root / "head")),
        "head2": str(head_model(root / "head2", n_members=2, seed=1)),
        "hf": str(hf),
        "judge": "judge:" + str(save_causal_lm(root / "causal", seed=4)),
        "transformer": str(transformer_model(root / "transformer", one)),
    }


def write_judge_templates(root: Path) -> None:
    """``root/rating.txt`` and ``root/pairwise.txt``: judge templates in the tiny tokenizers'
    vocabulary, for the ``--judge-*-template`` options."""
    (root / "rating.txt").write_text("Rate {response} to {prompt} from 1 to 10 : ")
    (root / "pairwise.txt").write_text("Which is good for {prompt} : A {response_a} or B "
                                       "{response_b} ? Answer A or B : ")
