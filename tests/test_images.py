"""The image modality: every accepted form decodes to one canonical array, in one place.

Expected values are worked out here from the pixels (numpy), not read back from
the module: the luma formula, the digest's header and bytes, the alpha rule.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rewardlab.data.errors import DataError
from rewardlab.data.fingerprint import fingerprint
from rewardlab.data.images import ImageDecodeError, decode_image, encode_png
from rewardlab.data.modality import (
    jsonable_response,
    modality_of,
    modality_of_all,
    response_digest,
    response_key,
    response_statistics,
)
from rewardlab.data.record import Comparison
from rewardlab.data.validate import validate
from rewardlab.features.base import response_lengths
from rewardlab.features.cache import text_hash
from rewardlab.models.baselines import LengthReward, StatisticReward
from rewardlab.models.training.units import pair_units

RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 256, size=(5, 7, 3), dtype=np.uint8)


def png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def test_every_form_decodes_to_the_same_rgb_uint8_array(tmp_path):
    path = tmp_path / "x.png"
    path.write_bytes(png(RGB))
    rgba = np.concatenate([RGB, np.full((5, 7, 1), 9, np.uint8)], axis=2)
    forms = [RGB, png(RGB), bytearray(png(RGB)), path, Image.fromarray(RGB), rgba,
             RGB.astype(np.float32) / 255.0]
    for form in forms:
        assert modality_of(form).name == "image", type(form)
        out = decode_image(form)
        assert out.dtype == np.uint8 and out.shape == (5, 7, 3) and out.flags["C_CONTIGUOUS"]
        np.testing.assert_array_equal(out, RGB)


def test_gray_images_repeat_over_the_channels_and_floats_round():
    gray = np.array([[0, 128], [255, 7]], np.uint8)
    expected = np.repeat(gray[:, :, None], 3, axis=2)
    np.testing.assert_array_equal(decode_image(gray), expected)
    np.testing.assert_array_equal(decode_image(gray[:, :, None]), expected)
    floats = np.array([[0.0, 0.5], [1.0, 0.002]])  # 0.5·255 = 127.5 → 128; 0.51 → 1
    np.testing.assert_array_equal(decode_image(floats)[:, :, 0], [[0, 128], [255, 1]])


def test_jpeg_bytes_decode_to_the_same_size():
    buffer = io.BytesIO()
    Image.fromarray(RGB).save(buffer, format="JPEG", quality=95)
    data = buffer.getvalue()
    assert modality_of(data).name == "image"
    assert decode_image(data).shape == (5, 7, 3)


def test_a_str_is_always_text_even_when_it_names_an_image(tmp_path):
    (tmp_path / "x.png").write_bytes(png(RGB))
    assert modality_of(str(tmp_path / "x.png")).name == "text"
    with pytest.raises(TypeError, match="got bytes"):
        modality_of(b"plain bytes, no image magic")


@pytest.mark.parametrize(("value", "message"), [
    (png(RGB)[:40], "PNG data is not a decodable image"),
    (np.zeros((2, 2, 2), np.uint8), "must be H×W, H×W×1, H×W×3 or H×W×4"),
    (np.zeros((2, 2), np.int64), "uint8, or float in \\[0, 1\\]; got dtype int64"),
    (np.full((2, 2), 1.5), "finite values in \\[0, 1\\]"),
    (np.zeros((0, 3, 3), np.uint8), "at least one pixel"),
])
def test_a_bad_image_is_one_line_naming_why(value, message):
    with pytest.raises(ImageDecodeError, match=message) as err:
        decode_image(value)
    assert "\n" not in str(err.value)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(ImageDecodeError, match="cannot read image file .*gone.png"):
        decode_image(tmp_path / "gone.png")
    with pytest.raises(ImageDecodeError, match="cannot read image file .*gone.png"):
        response_digest(tmp_path / "gone.png")


def test_an_image_over_the_pixel_limit_is_refused_before_decoding(monkeypatch):
    monkeypatch.setattr("rewardlab.data.images.MAX_PIXELS", 34)
    with pytest.raises(ImageDecodeError, match="7×5 pixels is over the limit of 34"):
        decode_image(png(RGB))


def test_the_digest_is_of_the_pixels_whatever_the_form(tmp_path):
    path = tmp_path / "x.png"
    path.write_bytes(png(RGB))
    inner = hashlib.sha256(b"5x7:" + RGB.tobytes()).digest()
    expected = hashlib.sha256(inner).hexdigest()
    for form in (RGB, png(RGB), path, Image.fromarray(RGB)):
        assert response_digest(form) == expected
    changed = RGB.copy()
    changed[0, 0, 0] ^= 1
    assert response_digest(changed) != expected
    assert response_key(png(RGB)) == ("image", expected)
    assert text_hash(png(RGB)) == bytes.fromhex(expected)[:16]
    assert text_hash("héllo") == hashlib.sha256("héllo".encode()).digest()[:16]


def test_a_rewritten_file_gets_its_new_digest(tmp_path):
    path = tmp_path / "x.png"
    path.write_bytes(png(RGB))
    before = response_digest(path)
    other = RGB[::-1].copy()
    path.write_bytes(png(other))
    os.utime(path, ns=(1, 1))  # the remembered digest is keyed on path, size and mtime
    assert response_digest(path) == response_digest(other) != before


def test_statistics_are_pixels_brightness_and_rms_contrast():
    image = np.array([[[255, 0, 0], [0, 255, 0]], [[0, 0, 255], [255, 255, 255]]], np.uint8)
    luma = np.array([0.299, 0.587, 0.114, 1.0])
    stats = response_statistics([image, png(image)])
    assert list(stats) == ["pixels", "brightness", "contrast"]
    np.testing.assert_allclose(stats["pixels"], [4, 4])
    np.testing.assert_allclose(stats["brightness"], [luma.mean()] * 2, rtol=1e-12)
    np.testing.assert_allclose(stats["contrast"], [luma.std()] * 2, rtol=1e-12)
    big = np.zeros((3, 10, 3), np.uint8)
    np.testing.assert_array_equal(response_lengths([image, big]), [4, 30])
    np.testing.assert_array_equal(LengthReward().score(["p", "p"], [image, big]), [4, 30])
    np.testing.assert_allclose(
        StatisticReward("brightness").score(["p", "p"], [image, big]), [luma.mean(), 0.0]
    )
    with pytest.raises(ValueError, match="statistic 'length' is not one of"):
        StatisticReward("length").score(["p"], [image])


def test_a_batch_may_not_mix_text_and_images():
    with pytest.raises(TypeError, match="item 0 is text, item 1 is image"):
        modality_of_all(["a", RGB])


def test_json_outputs_write_a_path_or_a_digest_never_bytes(tmp_path):
    assert jsonable_response("hi") == "hi"
    assert jsonable_response(tmp_path / "a.png") == str(tmp_path / "a.png")
    assert jsonable_response(png(RGB)) == {"sha256": response_digest(RGB)}


def test_validation_counts_identical_images_in_any_form_and_names_a_corrupt_one():
    other = RGB[::-1].copy()
    records = [
        Comparison("p", (RGB, png(RGB)), (0, 1), source="f:1"),  # same pixels twice
        Comparison("p", (RGB, other), (0, 1), source="f:2"),
        Comparison("p", (png(RGB), png(other)), (0, 1), source="f:3"),  # duplicate of f:2
        Comparison("q", (RGB, other), (1, 0), source="f:4"),
    ]
    kept, report = validate(records)
    assert [r.source for r in kept] == ["f:2", "f:4"]
    assert (report.identical_pair, report.duplicate, report.empty_response) == (1, 1, 0)
    assert fingerprint([records[1]]) == fingerprint([records[2]])
    assert fingerprint([records[1]]) != fingerprint([records[3]])
    with pytest.raises(DataError, match="^f:9: PNG data is not a decodable image"):
        validate([Comparison("p", (png(RGB)[:40], RGB), (0, 1), source="f:9")])


def test_training_units_encode_each_distinct_image_once():
    other = RGB[::-1].copy()
    records = [Comparison("p", (RGB, other), (0, 1)), Comparison("p", (png(other), png(RGB)), (1, 0))]
    table = pair_units(records)
    assert len(table.responses) == 2  # the PNGs are the arrays' pixels
    np.testing.assert_array_equal(table.units.index, [[0, 1], [0, 1]])


def test_encode_png_round_trips(tmp_path):
    data = encode_png(Image.fromarray(RGB))
    assert data.startswith(b"\x89PNG")
    np.testing.assert_array_equal(decode_image(data), RGB)
    path = tmp_path / "y.png"
    path.write_bytes(data)
    np.testing.assert_array_equal(decode_image(Path(path)), RGB)


def test_text_only_probes_and_backbones_refuse_images_before_anything_runs():
    from rewardlab.evaluate.suite import run_evaluation
    from rewardlab.features.backbones import build_backbone, check_modality

    pairs = [Comparison("p", (RGB, RGB[::-1].copy()), (0, 1))]
    for probe in ("perturb", "sycophancy"):  # attack has an image form (pixel_attack)
        with pytest.raises(ValueError, match=f"probe '{probe}' takes text responses; these "
                                             "responses are image"):
            run_evaluation(LengthReward(), pairs, probes=[probe])
    result = run_evaluation(LengthReward(), pairs, probes=["length"])
    assert result["suite_results"]["baselines"]["pixels"] == 0.5  # 35 pixels each: a tie
    with pytest.raises(ValueError, match="backbone 'hashing' featurizes text responses, but "
                                         "these are image"):
        check_modality(build_backbone("hashing", n_features=8), [RGB])
