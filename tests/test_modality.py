"""The modality registry: text is recognised, a batch may not mix kinds, digests are stable."""

import hashlib

import pytest

from rewardlab.data.modality import (
    MODALITIES,
    Modality,
    decode_responses,
    modality_of,
    modality_of_all,
    register_modality,
    response_digest,
)


def test_text_is_its_own_canonical_form_and_length_is_whitespace_tokens():
    text = modality_of("two  words ")
    assert text.name == "text"
    assert decode_responses(["a b", "c"]) == ["a b", "c"]
    assert text.statistics("one two three") == {"length": 3.0}
    assert response_digest("héllo") == hashlib.sha256("héllo".encode()).hexdigest()


def test_an_unknown_response_type_is_named():
    with pytest.raises(TypeError, match="got float"):
        modality_of(3.5)


def test_a_batch_that_mixes_modalities_is_refused(monkeypatch):
    numbers = Modality("number-test", lambda v: isinstance(v, int), int,
                       lambda v: str(v).encode(), lambda v: {"size": float(v)})
    monkeypatch.setattr("rewardlab.data.modality._ORDER", ["text"])
    monkeypatch.setattr(MODALITIES, "_items", dict(MODALITIES._items))
    register_modality(numbers)
    assert modality_of_all([1, 2]).name == "number-test"
    with pytest.raises(TypeError, match="item 0 is text, item 1 is number-test"):
        modality_of_all(["a", 2])
    assert modality_of_all([]).name == "text"
