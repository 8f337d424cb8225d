"""Candidate pools: grouping by prompt, batched scoring, reading with clear errors."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from rewardlab.data.errors import DataError
from rewardlab.models.baselines import LengthReward
from rewardlab.optimize.pool import PromptPool, group_by_prompt, read_pool, score_texts


class Spread:
    def __init__(self) -> None:
        self.sizes: list[int] = []

    def score(self, prompts, responses):
        return LengthReward().score(prompts, responses)

    def score_with_uncertainty(self, prompts, responses):
        self.sizes.append(len(prompts))
        return self.score(prompts, responses), np.arange(len(prompts), dtype=float)


def write(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_group_by_prompt_keeps_first_appearance_order():
    pools = group_by_prompt(
        ["b", "a", "b"], ["x", "y", "z"], np.array([1.0, 2.0, 3.0]), gold=np.array([0.0, 1.0, 2.0])
    )
    assert [p.prompt for p in pools] == ["b", "a"]
    assert pools[0].responses == ("x", "z")
    np.testing.assert_array_equal(pools[0].scores, [1.0, 3.0])
    np.testing.assert_array_equal(pools[0].gold, [0.0, 2.0])
    assert pools[1].spread is None


def test_pool_validates_shapes():
    with pytest.raises(ValueError, match="'gold'"):
        PromptPool("p", ("a", "b"), np.zeros(2), gold=np.zeros(3))
    with pytest.raises(ValueError, match="'responses'"):
        PromptPool("p", (), np.zeros(0))


def test_score_texts_batches_and_spread():
    model = Spread()
    scores, spread = score_texts(
        model, ["p"] * 5, ["a", "a b", "a", "a", "a b c"], batch_size=2, with_spread=True
    )
    np.testing.assert_array_equal(scores, [1, 2, 1, 1, 3])
    np.testing.assert_array_equal(spread, [0, 1, 0, 1, 0])  # arange restarts per batch
    assert model.sizes == [2, 2, 1]
    with pytest.raises(ValueError, match="'model'"):
        score_texts(LengthReward(), ["p"], ["a"], with_spread=True)


def test_read_pool_with_model_column_and_gzip(tmp_path):
    rows = [
        {"prompt": "q", "response": "a b", "s": 0.5, "g": 1},
        {"prompt": "q", "response": "a", "s": 0.1, "g": 2},
    ]
    by_column = read_pool(write(tmp_path / "p.jsonl", rows), score_column="s", gold_column="g")
    np.testing.assert_array_equal(by_column[0].scores, [0.5, 0.1])
    np.testing.assert_array_equal(by_column[0].gold, [1.0, 2.0])
    packed = tmp_path / "p.jsonl.gz"
    with gzip.open(packed, "wt", encoding="utf-8") as handle:
        handle.write("".join(json.dumps(row) + "\n" for row in rows))
    by_model = read_pool(packed, model=Spread())
    np.testing.assert_array_equal(by_model[0].scores, [2.0, 1.0])
    np.testing.assert_array_equal(by_model[0].spread, [0.0, 1.0])


def test_read_pool_reads_csv_numbers(tmp_path):
    path = tmp_path / "pool.csv"
    path.write_text("prompt,response,s\nq,a,0.25\nq,b,-1\n", encoding="utf-8")
    np.testing.assert_array_equal(read_pool(path, score_column="s")[0].scores, [0.25, -1.0])


def test_read_pool_errors_name_file_line_and_field(tmp_path):
    path = write(
        tmp_path / "bad.jsonl", [{"prompt": "q", "response": "a", "s": 1}, {"prompt": "q"}]
    )
    with pytest.raises(DataError, match=r"bad\.jsonl:2: field 'response'"):
        read_pool(path, score_column="s")
    path = write(tmp_path / "nan.jsonl", [{"prompt": "q", "response": "a", "s": "high"}])
    with pytest.raises(DataError, match=r"nan\.jsonl:1: field 's'"):
        read_pool(path, score_column="s")
    garbled = tmp_path / "garbled.jsonl"
    garbled.write_text('{"prompt": "q", "response": "a", "s": 1}\n{oops\n')
    with pytest.raises(DataError, match=r"garbled\.jsonl:2: "):
        read_pool(garbled, score_column="s")
    with pytest.raises(ValueError, match="exactly one"):
        read_pool(path)
