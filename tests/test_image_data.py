"""Image preference data: Pick-a-Pic Parquet, image JSONL, the digits tasks and their files.

Expected values come from the rows written here (which image, which label) and, for the
digits gold, from a logistic regression refitted in the test with scikit-learn directly.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from rewardlab.data.errors import DataError
from rewardlab.data.formats.auto import detect_format
from rewardlab.data.formats.images import write_image_jsonl
from rewardlab.data.formats.pickapic import write_pickapic
from rewardlab.data.images import decode_image
from rewardlab.data.io import read_rows, write_jsonl
from rewardlab.data.load import load_comparisons
from rewardlab.data.modality import response_digest
from rewardlab.data.record import Comparison
from rewardlab.data.synthetic.digit_files import gold_ordered, write_digits
from rewardlab.data.synthetic.digits import (
    DigitsConfig,
    digit_pairs,
    generate_digits,
    gold_rewards,
    load_scans,
    noise_pairs,
    prompt_digit,
    render,
    to_scan,
)

RNG = np.random.default_rng(3)
A, B, C = (RNG.integers(0, 256, (6, 5, 3), dtype=np.uint8) for _ in range(3))


def encoded(array: np.ndarray, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt)
    return buffer.getvalue()


def write_parquet(path, rows) -> None:
    pq.write_table(pa.Table.from_pylist(rows), path)


def row(caption, first, second, labels, **extra):
    """A Pick-a-Pic row; every row names the same columns (pyarrow takes them from row 1)."""
    return {"caption": caption, "jpg_0": first, "jpg_1": second, "label_0": labels[0],
            "label_1": labels[1], "has_label": True, "user_id": None, "model_0": None, **extra}


def test_pickapic_labels_ties_unlabelled_rows_and_the_hub_image_struct(tmp_path):
    path = tmp_path / "pp.parquet"
    write_parquet(path, [
        row("a cat", encoded(A), encoded(B), (1.0, 0.0), user_id=7, model_0="sd15"),
        row("a dog", encoded(A, "JPEG"), encoded(B), (0.0, 1.0)),
        row("a cow", encoded(A), encoded(C), (0.5, 0.5)),
        row("a pig", encoded(B), encoded(C), (0.0, 0.0), has_label=False),
    ])
    assert detect_format(next(read_rows(path))[1]) == "pickapic"
    records = load_comparisons(path).records  # auto
    assert [(r.prompt, r.ranking, r.tie) for r in records] == [
        ("a cat", (0, 1), False), ("a dog", (1, 0), False), ("a cow", (0, 1), True),
        ("a pig", (), False)]
    np.testing.assert_array_equal(decode_image(records[0].chosen), A)
    np.testing.assert_array_equal(decode_image(records[1].chosen), B)  # label_1 wins
    assert records[0].annotator == "7" and records[0].meta == {"model_0": "sd15"}
    assert records[0].source == f"{path}:1"
    struct = tmp_path / "struct.parquet"
    write_parquet(struct, [row("x", {"bytes": encoded(A), "path": None},
                               {"bytes": encoded(B), "path": None}, (1, 0))])
    (record,) = load_comparisons(struct, "pickapic").records
    np.testing.assert_array_equal(decode_image(record.rejected), B)


@pytest.mark.parametrize(("bad", "message"), [
    ({"jpg_1": encoded(B)[:60]}, "2: field 'jpg_1': PNG data is not a decodable image"),
    ({"jpg_0": b"GIF89a..."}, "2: field 'jpg_0': not PNG, JPEG or WebP data"),
    ({"jpg_0": None}, "2: field 'jpg_0': missing (expected the image's encoded bytes)"),
    ({"label_0": 0.7, "label_1": 0.3}, "2: field 'label_1': labels 0.7, 0.3: expected 1 and 0"),
    ({"label_0": None}, "2: field 'label_0': expected 0, 0.5 or 1, got None"),
    ({"caption": None}, "2: field 'caption': missing"),
])
def test_a_bad_pickapic_row_is_one_line_naming_file_row_and_field(tmp_path, bad, message):
    path = tmp_path / "bad.parquet"
    good = row("ok", encoded(A), encoded(B), (1.0, 0.0))
    write_parquet(path, [good, {**good, **bad}])
    with pytest.raises(DataError) as err:
        load_comparisons(path, "pickapic")
    assert str(err.value).startswith(f"{path}:{message}")


def test_write_pickapic_round_trips_images_labels_and_ties(tmp_path):
    records = [Comparison("p", (A, B), (0, 1)), Comparison("q", (B, C), (1, 0)),
               Comparison("r", (A, C), (0, 1), tie=True)]
    path = tmp_path / "w.parquet"
    assert write_pickapic(records, path, [{"gold_0": 1.0, "gold_1": 0.0}] * 3) == 3
    table = pq.read_table(path).to_pylist()
    assert [(t["label_0"], t["label_1"]) for t in table] == [(1.0, 0.0), (0.0, 1.0), (0.5, 0.5)]
    assert table[0]["jpg_0"].startswith(b"\x89PNG") and table[0]["gold_0"] == 1.0
    loaded = load_comparisons(path).records
    for before, after in zip(records, loaded):
        assert (after.ranking, after.tie) == (before.ranking, before.tie)
        assert [response_digest(r) for r in after.responses] == \
            [response_digest(r) for r in before.responses]


def test_image_jsonl_pairs_rankings_and_ranks_relative_to_the_file(tmp_path):
    (tmp_path / "img").mkdir()
    for name, array in (("a", A), ("b", B), ("c", C)):
        Image.fromarray(array).save(tmp_path / "img" / f"{name}.png")
    path = tmp_path / "d.jsonl"
    write_jsonl(path, [
        {"prompt": "p", "chosen": "img/a.png", "rejected": "img/b.png"},
        {"prompt": "q", "images": ["img/a.png", "img/b.png", "img/c.png"], "ranking": [2, 0]},
        {"prompt": "r", "image_path": ["img/a.png", "img/b.png", "img/c.png"], "rank": [2, 3, 1]},
        {"prompt": "s", "chosen": str(tmp_path / "img/c.png"), "rejected": "img/a.png",
         "tie": True},
    ])
    assert detect_format(next(read_rows(path))[1]) == "images"
    records = load_comparisons(path).records
    assert [(r.ranking, r.tie) for r in records] == [
        ((0, 1), False), ((2, 0), False), ((2, 0, 1), False), ((0, 1), True)]
    assert records[0].chosen == tmp_path / "img" / "a.png"
    np.testing.assert_array_equal(decode_image(records[1].chosen), C)
    np.testing.assert_array_equal(decode_image(records[2].responses[2]), C)


@pytest.mark.parametrize(("bad", "message"), [
    ({"rejected": "img/gone.png"}, "field 'rejected': cannot read image file '.*gone.png'"),
    ({"rejected": "img/broken.png"}, "field 'rejected': file '.*broken.png' is not a decodable"),
    ({"rejected": 3}, "field 'rejected': expected an image file path, got int"),
    ({"chosen": None, "rejected": None, "images": ["img/a.png", "img/a.png"],
      "ranking": [0, 0]}, "field 'ranking': expected distinct indices"),
    ({"chosen": None, "rejected": None, "images": ["img/a.png", "img/a.png"],
      "rank": [1, 1]}, "field 'rank': expected the ranks 1…2"),
])
def test_a_bad_image_jsonl_row_names_file_line_and_field(tmp_path, bad, message):
    (tmp_path / "img").mkdir()
    Image.fromarray(A).save(tmp_path / "img" / "a.png")
    (tmp_path / "img" / "broken.png").write_bytes(encoded(B)[:50])
    path = tmp_path / "d.jsonl"
    good = {"prompt": "p", "chosen": "img/a.png", "rejected": "img/a.png"}
    write_jsonl(path, [good, {k: v for k, v in {**good, **bad}.items() if v is not None}])
    with pytest.raises(DataError, match=f"^{path}:2: {message}"):
        load_comparisons(path, "images")


def test_write_image_jsonl_writes_each_image_once_by_digest(tmp_path):
    records = [Comparison("p", (A, B), (0, 1)), Comparison("q", (A, B, C), (2, 0)),
               Comparison("r", (C, A), (0, 1), tie=True)]
    path = tmp_path / "out.jsonl"
    write_image_jsonl(records, path)
    assert len(list((tmp_path / "images").glob("*.png"))) == 3
    loaded = load_comparisons(path).records
    assert [(r.ranking, r.tie) for r in loaded] == [((0, 1), False), ((2, 0), False),
                                                    ((0, 1), True)]
    first = json.loads(path.read_text().splitlines()[0])
    assert first["chosen"] == f"images/{response_digest(A)}.png"


def test_a_scan_renders_and_reads_back_exactly():
    scans, labels = load_scans()
    assert scans.shape == (1797, 8, 8) and set(labels.tolist()) == set(range(10))
    x = scans[5] / 16.0
    for scale in (1, 3):
        image = render(x, scale)
        assert image.shape == (8 * scale, 8 * scale, 3)
        expected = np.rint(x * 255) * 16.0 / 255.0  # the uint8 rounding, back on 0–16
        np.testing.assert_allclose(to_scan(image), expected.reshape(64), atol=1e-4)


def test_the_gold_is_a_refitted_logistic_regressions_log_probability():
    from sklearn.linear_model import LogisticRegression

    scans, labels = load_scans()
    clf = LogisticRegression(C=1.0, max_iter=5000).fit(scans.reshape(-1, 64) / 16.0, labels)
    images = [render(scans[i] / 16.0, 2) for i in (0, 1, 2)]
    prompts = ["draw a 0", "a neat handwritten 7", "write the digit two"]
    probs = clf.predict_proba(np.stack([np.rint(scans[i] / 16.0 * 255) / 255 for i in
                                        (0, 1, 2)]).reshape(3, 64))
    expected = np.log(probs[[0, 1, 2], [0, 7, 2]])
    np.testing.assert_allclose(gold_rewards(prompts, images), expected, rtol=1e-6)
    assert [prompt_digit(p) for p in prompts] == [0, 7, 2]
    with pytest.raises(ValueError, match="asks for no digit"):
        prompt_digit("a cat")


def test_digit_pairs_follow_the_gold_with_ties_and_label_noise():
    digits = generate_digits(DigitsConfig(n_prompts=60, candidates_per_prompt=6, seed=1))
    assert len(set(digits.prompts)) == 60
    pairs = digit_pairs(digits, np.arange(60), 400, label_noise=0.1, seed=2)
    labelled = [p for p in pairs if not p.tie]
    assert len(labelled) == 400 and len(pairs) > 400
    keys = {(p.meta["prompt_index"], *sorted(response_digest(r) for r in p.responses))
            for p in pairs}
    assert len(keys) == len(pairs)  # each pair of candidates once
    gold = np.array([p.meta["gold"] for p in pairs])
    ties = np.array([p.tie for p in pairs])
    np.testing.assert_array_equal(ties, np.abs(gold[:, 0] - gold[:, 1]) < 1.0)
    flipped = np.array([p.meta["flipped"] for p in labelled])
    ordered = np.array([p.meta["gold"][p.ranking[0]] > p.meta["gold"][p.ranking[1]]
                        for p in labelled])
    np.testing.assert_array_equal(ordered, ~flipped)
    assert 0.06 < flipped.mean() < 0.14  # 10% noise, 400 draws
    assert 0.4 < np.mean([p.ranking == (0, 1) for p in labelled]) < 0.6  # either side wins
    for p in pairs[:20]:  # the stored gold is the gold of the stored images
        np.testing.assert_allclose(gold_rewards([p.prompt] * 2, list(p.responses)),
                                   p.meta["gold"], rtol=1e-9)
    restored = gold_ordered(labelled)
    assert all(q.meta["gold"][q.ranking[0]] > q.meta["gold"][q.ranking[1]] for q in restored)


def test_the_size_shortcut_follows_the_size_correlation():
    def pixel_agreement(rho):
        d = generate_digits(DigitsConfig(n_prompts=80, size_correlation=rho, seed=0))
        pairs = [p for p in digit_pairs(d, np.arange(80), 600, seed=0) if not p.tie]
        sizes = np.array([[decode_image(r).shape[0] for r in p.responses] for p in pairs])
        gold = np.array([p.meta["gold"] for p in pairs])
        differ = sizes[:, 0] != sizes[:, 1]
        return np.mean((sizes[differ, 0] > sizes[differ, 1]) == (gold[differ, 0] >
                                                                  gold[differ, 1]))
    assert pixel_agreement(1.0) > 0.65
    assert abs(pixel_agreement(0.0) - 0.5) < 0.08


def test_noise_pairs_put_the_clean_scan_first_on_distinct_scans():
    scans, labels = load_scans()
    pairs = noise_pairs(30, seed=4)
    sources = [p.meta["source"] for p in pairs]
    assert len(set(sources)) == 30
    assert 0.2 < np.mean([p.ranking == (0, 1) for p in pairs]) < 0.8
    for p in pairs[:5]:
        np.testing.assert_array_equal(p.chosen, render(scans[p.meta["source"]] / 16.0, 4))
        assert prompt_digit(p.prompt) == labels[p.meta["source"]]
        assert np.abs(p.rejected.astype(int) - p.chosen.astype(int)).mean() > 40
    others = noise_pairs(20, seed=5, exclude=frozenset(sources))
    assert not {p.meta["source"] for p in others} & set(sources)


def test_write_digits_gold_files_and_summary(tmp_path):
    summary = write_digits(tmp_path / "d", "gold", 60, 30,
                           DigitsConfig(n_prompts=50, candidates_per_prompt=5, seed=0))
    folder = tmp_path / "d"
    assert json.loads((folder / "digits.json").read_text()) == summary
    train, test = (load_comparisons(folder / f"{n}.parquet").records for n in ("train", "test"))
    gold = load_comparisons(folder / "test-gold.parquet").records
    assert sum(not r.tie for r in train) == 60 and sum(not r.tie for r in test) == 30
    assert summary["files"]["train"] == {"rows": len(train), "ties": sum(r.tie for r in train)}
    assert not {r.prompt for r in train} & {r.prompt for r in test}  # prompts split
    rows = pq.read_table(folder / "test-gold.parquet").to_pylist()
    for record, raw in zip(gold, rows):  # gold order: the higher gold is chosen
        if not record.tie:
            assert (raw["gold_0"] > raw["gold_1"]) == (record.ranking == (0, 1))
    jsonl = load_comparisons(folder / "train.jsonl").records
    assert [(response_digest(r.chosen), r.tie) for r in jsonl[:20]] == \
        [(response_digest(r.chosen), r.tie) for r in train[:20]]
