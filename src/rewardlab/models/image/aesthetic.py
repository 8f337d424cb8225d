"""The LAION aesthetic predictor form: an MLP on L2-normalized CLIP image embeddings.

    r(y) = f(v(y) / ‖v(y)‖),   f(z) = W_L(… W_2(W_1 z + b_1) + b_2 …) + b_L,

with v the CLIP image embedding (the projected pooled CLS state of the CLIP
folder the MLP sits in, :class:`~rewardlab.features.clip_load.ClipTowers`) and f
the linear layers of the predictor applied in order. The improved predictor
(Schuhmann, "improved-aesthetic-predictor", LAION 2022; used as the aesthetic
reward of DDPO, Black et al. 2023, and of TRL's DDPO and AlignProp examples)
is ``nn.Sequential(Linear(768, 1024), Dropout, Linear(1024, 128), Dropout,
Linear(128, 64), Dropout, Linear(64, 16), Linear(16, 1))`` on CLIP ViT-L/14
embeddings: no activation between its layers, dropout only in training. Its
weights are read by their names ``layers.{i}.weight`` / ``layers.{i}.bias``
in the order of i (the dropout slots hold none); the first LAION-Aesthetics
predictor, one ``Linear(768, 1)`` saved as ``weight`` / ``bias``, is read too.
The prompt is not used.

Spec ``aesthetic:PATH``: PATH is the CLIP folder holding the MLP as
``aesthetic.safetensors``, or the MLP's ``.safetensors`` file inside the CLIP
folder it sits on. The LAION release is a ``.pth`` pickle, which is refused
with one line saying how to convert it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab.features.clip_load import PICKLE_SUFFIXES, ClipTowers
from rewardlab.models.image.clip import image_responses, load_clip_tower
from rewardlab.models.lm.hub import HubModelOptions
from rewardlab.protocols import Response, check_lengths

MLP_FILE = "aesthetic.safetensors"
_LAYER = re.compile(r"^layers\.(\d+)\.(weight|bias)$")


def mlp_layers(tensors: dict[str, Any], where: str) -> list[tuple[Any, Any]]:
    """(weight, bias) of each linear layer in order; ``ValueError`` naming ``where`` when the
    names or shapes do not chain."""
    if set(tensors) == {"weight", "bias"}:
        layers = [(tensors["weight"], tensors["bias"])]
    else:
        found: dict[int, dict[str, Any]] = {}
        for name, tensor in tensors.items():
            match = _LAYER.match(name)
            if match is None:
                raise ValueError(
                    f"{where}: tensor {name!r} is not layers.<i>.weight/bias or weight/bias"
                )
            found.setdefault(int(match.group(1)), {})[match.group(2)] = tensor
        layers = []
        for i in sorted(found):
            if set(found[i]) != {"weight", "bias"}:
                raise ValueError(f"{where}: layer {i} needs both weight and bias")
            layers.append((found[i]["weight"], found[i]["bias"]))
    previous = None
    for i, (weight, bias) in enumerate(layers):
        if weight.dim() != 2 or bias.shape != weight.shape[:1]:
            raise ValueError(f"{where}: layer {i} has weight {tuple(weight.shape)} and bias "
                             f"{tuple(bias.shape)}; expected (out, in) and (out,)")
        if previous is not None and weight.shape[1] != previous:
            raise ValueError(f"{where}: layer {i} takes {weight.shape[1]} inputs, the layer "
                             f"before gives {previous}")
        previous = weight.shape[0]
    if previous != 1:
        raise ValueError(f"{where}: the last layer gives {previous} outputs, expected 1")
    return layers


class AestheticRewardModel:
    """``RewardModel`` and ``PixelRewardModel``: the aesthetic MLP on a CLIP tower."""

    form = "aesthetic"

    def __init__(self, tower: ClipTowers, layers: list[tuple[Any, Any]], name: str) -> None:
        in_dim = layers[0][0].shape[1]
        out_dim = int(tower.model.config.projection_dim)
        if in_dim != out_dim:
            raise ValueError(f"aesthetic:{name}: the MLP takes {in_dim} inputs but the CLIP "
                             f"image embedding has {out_dim}")
        self.tower = tower
        self.layers = [(w.to(tower.device, tower.dtype), b.to(tower.device, tower.dtype))
                       for w, b in layers]
        self.name = name

    @property
    def id(self) -> str:
        return f"aesthetic:{self.name}"

    def mlp(self, embeddings: Any) -> Any:
        """f(z) for normalized embeddings z (n, d) → (n,)."""
        z = embeddings
        for weight, bias in self.layers:
            z = z @ weight.T + bias
        return z[:, 0]

    def score(self, prompts: Sequence[str], responses: Sequence[Response]) -> np.ndarray:
        import torch

        if check_lengths(prompts, responses) == 0:
            return np.zeros(0)
        images = image_responses(responses, self.id)
        with torch.inference_mode():
            rewards = self.mlp(self.tower.image_features(images))
        return rewards.double().cpu().numpy()

    def score_pixels(self, prompts: Sequence[str], pixels: Any) -> Any:
        """r for N×H×W×3 pixels in [0, 1], differentiable in ``pixels``."""
        check_lengths(prompts, pixels)
        return self.mlp(self.tower.image_features_pixels(pixels))


def aesthetic_paths(spec_path: str | Path) -> tuple[Path, Path]:
    """(MLP file, CLIP folder) of ``aesthetic:PATH`` (see the module doc)."""
    path = Path(spec_path)
    if path.is_dir():
        mlp, folder = path / MLP_FILE, path
        if not mlp.is_file():
            pickled = sorted(p.name for p in path.glob("aesthetic*") if p.suffix in PICKLE_SUFFIXES)
            if pickled:
                raise _pickle_error(path / pickled[0])
            raise ValueError(f"aesthetic:{spec_path}: no {MLP_FILE} in the CLIP folder")
        return mlp, folder
    if path.suffix in PICKLE_SUFFIXES:
        raise _pickle_error(path)
    if path.suffix != ".safetensors" or not path.is_file():
        raise ValueError(
            f"aesthetic:{spec_path}: expected a CLIP folder holding {MLP_FILE}, or a "
            ".safetensors MLP file inside its CLIP folder"
        )
    return path, path.parent


def _pickle_error(path: Path) -> ValueError:
    return ValueError(
        f"aesthetic: {path} is a pickle, which rewardlab never loads; convert it once where "
        "you trust it: safetensors.torch.save_file(torch.load(PTH, weights_only=True), "
        f"'{MLP_FILE}')"
    )


def load_aesthetic(spec_path: str | Path, options: HubModelOptions | None = None
                   ) -> AestheticRewardModel:
    """The aesthetic predictor of ``aesthetic:PATH`` on the CLIP folder it sits in."""
    from rewardlab.models.io import read_tensors

    mlp_file, folder = aesthetic_paths(spec_path)
    layers = mlp_layers(read_tensors(mlp_file), str(mlp_file))
    tower = load_clip_tower(folder, options, what="aesthetic CLIP model")
    return AestheticRewardModel(tower, layers, str(spec_path))
