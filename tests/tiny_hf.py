"""Tiny randomly initialised Hugging Face checkpoints built offline for tests.

A word-level tokenizer (``tokenizers``; digits split one by one) wrapped in
``PreTrainedTokenizerFast``, and small Llama-style decoders (with a chat
template), BERT-style encoders and causal LMs saved to a folder, plus a
Hugging Face cache laid out as the hub writes it.
"""

from __future__ import annotations

from pathlib import Path

WORDS = (
    "the a is of to and in it you i what how why can cat dog sky blue red green water "
    "answer question please help good bad yes no sure here thanks hello world fact true "
    "false capital city paris rome london number one two three four five six long short "
    "Yes No A B Response Rate Which better reply"
).split()
SPECIALS = ["<pad>", "<s>", "</s>", "<unk>", "<|user|>", "<|assistant|>", "<|system|>"]
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} </s> "
    "{% endfor %}{% if add_generation_prompt %}<|assistant|> {% endif %}"
)


def tiny_tokenizer(chat: bool, bos_post: str = "<s> $A", cls_sep: bool = False):
    """A fast tokenizer over :data:`WORDS`, digits 0-9 and punctuation."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(SPECIALS)}
    for w in [*WORDS, *"0123456789", *".,!?:;'\"()-\n"]:
        vocab.setdefault(w, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Whitespace(), pre_tokenizers.Digits(individual_digits=True)]
    )
    if cls_sep:
        tok.post_processor = processors.TemplateProcessing(
            single="<s> $A </s>", special_tokens=[("<s>", 1), ("</s>", 2)]
        )
    else:
        tok.post_processor = processors.TemplateProcessing(
            single=bos_post, special_tokens=[("<s>", 1)]
        )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
        unk_token="<unk>", model_max_length=256,
    )
    fast.add_special_tokens({"additional_special_tokens": SPECIALS[4:]})
    if chat:
        fast.chat_template = CHAT_TEMPLATE
    return fast


def _llama_config(vocab_size: int, **kw):
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
        pad_token_id=0, bos_token_id=1, eos_token_id=2, initializer_range=0.2, **kw,
    )


def save_decoder_rm(folder: Path, num_labels: int = 1, id2label: dict | None = None,
                    seed: int = 0) -> Path:
    """A Llama-style sequence classifier whose tokenizer has a chat template."""
    import torch
    from transformers import LlamaForSequenceClassification

    torch.manual_seed(seed)
    tok = tiny_tokenizer(chat=True)
    kw = {"num_labels": num_labels}
    if id2label is not None:
        kw["id2label"] = id2label
        kw["label2id"] = {v: k for k, v in id2label.items()}
    model = LlamaForSequenceClassification(_llama_config(len(tok), **kw))
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def save_encoder_rm(folder: Path, seed: int = 0) -> Path:
    """A BERT-style sequence classifier with no chat template ([CLS] … [SEP] as <s> … </s>)."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(seed)
    tok = tiny_tokenizer(chat=False, cls_sep=True)
    config = BertConfig(
        vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, max_position_embeddings=512, num_labels=1, pad_token_id=0,
        initializer_range=0.2,
    )
    model = BertForSequenceClassification(config)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def save_causal_lm(folder: Path, seed: int = 0) -> Path:
    """A Llama-style causal LM whose tokenizer has a chat template (a tiny judge)."""
    import torch
    from transformers import LlamaForCausalLM

    torch.manual_seed(seed)
    tok = tiny_tokenizer(chat=True)
    LlamaForCausalLM(_llama_config(len(tok))).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def fill_hub_cache(cache: Path, repo: str, source: Path, revision: str = "0" * 40) -> Path:
    """Copy ``source`` into ``cache`` as the hub lays out ``repo`` (snapshot + refs/main)."""
    import shutil

    root = cache / f"models--{repo.replace('/', '--')}"
    snapshot = root / "snapshots" / revision
    shutil.copytree(source, snapshot)
    (root / "refs").mkdir(parents=True, exist_ok=True)
    (root / "refs" / "main").write_text(revision)
    return snapshot


QWEN_CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
"""Qwen2-Instruct's chat template, as its ``tokenizer_config.json`` ships it."""
QWEN_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def tiny_bpe_tokenizer():
    """A byte-level BPE tokenizer trained offline on a few sentences, Qwen-style.

    No BOS, EOS ``<|im_end|>``, pad ``<|endoftext|>``, no special tokens added to a
    text, and :data:`QWEN_CHAT_TEMPLATE`: what a Qwen2 reward model's tokenizer does.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=QWEN_SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    corpus = [" ".join(WORDS), "system user assistant You are a helpful assistant.",
              "What is 2 + 2? The answer is 4. #### 4", "the sky is blue and the cat is red"]
    tok.train_from_iterator(corpus * 20, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
        model_max_length=512, clean_up_tokenization_spaces=False,
    )
    fast.add_special_tokens({"additional_special_tokens": QWEN_SPECIALS[1:]})
    fast.chat_template = QWEN_CHAT_TEMPLATE
    return fast


def save_qwen_style_rm(folder: Path, num_labels: int = 1, id2label: dict | None = None,
                       seed: int = 0) -> Path:
    """A tiny random ``LlamaForSequenceClassification`` with :func:`tiny_bpe_tokenizer`."""
    import torch
    from transformers import LlamaConfig, LlamaForSequenceClassification

    torch.manual_seed(seed)
    tok = tiny_bpe_tokenizer()
    kw: dict = {"num_labels": num_labels}
    if id2label is not None:
        kw.update(id2label=id2label, label2id={v: k for k, v in id2label.items()})
    config = LlamaConfig(
        vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
        pad_token_id=tok.pad_token_id, bos_token_id=None, eos_token_id=tok.eos_token_id,
        initializer_range=0.2, **kw,
    )
    model = LlamaForSequenceClassification(config)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def save_tiny_clip(folder: Path, vision_only: bool = False, seed: int = 0) -> Path:
    """A tiny random ``CLIPModel`` (or ``CLIPVisionModelWithProjection``) with a 32×32
    image processor and the word-level tokenizer: what ``clip-vision:PATH`` reads."""
    import torch
    from transformers import (
        CLIPConfig,
        CLIPImageProcessor,
        CLIPModel,
        CLIPVisionConfig,
        CLIPVisionModelWithProjection,
    )

    torch.manual_seed(seed)
    tok = tiny_tokenizer(chat=False, cls_sep=True)
    vision = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
              "num_attention_heads": 4, "image_size": 32, "patch_size": 8}
    if vision_only:
        model = CLIPVisionModelWithProjection(CLIPVisionConfig(**vision, projection_dim=16))
    else:
        text = {"vocab_size": len(tok), "hidden_size": 32, "intermediate_size": 64,
                "num_hidden_layers": 2, "num_attention_heads": 4, "max_position_embeddings": 77,
                "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 0}
        model = CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=16))
        tok.save_pretrained(folder)
    model.save_pretrained(folder)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder
