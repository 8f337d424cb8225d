"""Tiny randomly initialised CLIP checkpoints built offline for tests.

A word-level tokenizer (``tokenizers``) that wraps a prompt as
``<|startoftext|> … <|endoftext|>`` and pads with ``<|endoftext|>`` as OpenAI's CLIP
tokenizer does, a ``CLIPModel`` with 32×32 images and 16-dimensional projections,
and the image processor (PIL backend: shortest edge 32, center crop 32), saved to a
folder as a published CLIP or PickScore checkpoint is laid out.
"""

from __future__ import annotations

from pathlib import Path

from tiny_hf import WORDS

IMAGE = 32
SPECIALS = ["<|startoftext|>", "<|endoftext|>", "<unk>"]


def clip_tokenizer():
    """A fast tokenizer over :data:`tiny_hf.WORDS` with CLIP's start/end tokens."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(SPECIALS)}
    for w in [*WORDS, *"0123456789", *".,!?:;'\"()-"]:
        vocab.setdefault(w, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single="<|startoftext|> $A <|endoftext|>",
        special_tokens=[("<|startoftext|>", 0), ("<|endoftext|>", 1)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<|startoftext|>", eos_token="<|endoftext|>",
        pad_token="<|endoftext|>", unk_token="<unk>", model_max_length=77,
    )


def save_clip(folder: Path, seed: int = 0, logit_scale: float = 2.0, image: int = IMAGE) -> Path:
    """A tiny ``CLIPModel`` folder (safetensors, tokenizer, PIL image processor)."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessorPil, CLIPModel

    torch.manual_seed(seed)
    tok = clip_tokenizer()
    config = CLIPConfig(
        text_config={
            "vocab_size": len(tok), "hidden_size": 32, "intermediate_size": 48,
            "num_hidden_layers": 2, "num_attention_heads": 4, "max_position_embeddings": 77,
            "bos_token_id": 0, "eos_token_id": 1, "pad_token_id": 1,
        },
        vision_config={
            "image_size": image, "patch_size": 8, "hidden_size": 32, "intermediate_size": 48,
            "num_hidden_layers": 2, "num_attention_heads": 4,
        },
        projection_dim=16,
        logit_scale_init_value=logit_scale,
    )
    model = CLIPModel(config)
    model.save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)
    CLIPImageProcessorPil(
        size={"shortest_edge": image}, crop_size={"height": image, "width": image}
    ).save_pretrained(folder)
    return folder


def save_aesthetic_mlp(path: Path, dims=(16, 12, 8, 1), seed: int = 0) -> Path:
    """An aesthetic MLP as the LAION predictor stores it (``layers.{i}.weight``/``bias``
    of linear layers, dropout slots between them), saved as safetensors."""
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(seed)
    tensors = {}
    for k, (d_in, d_out) in enumerate(zip(dims[:-1], dims[1:])):
        tensors[f"layers.{2 * k}.weight"] = torch.randn(d_out, d_in) * 0.5
        tensors[f"layers.{2 * k}.bias"] = torch.randn(d_out) * 0.1
    save_file(tensors, str(path))
    return path
