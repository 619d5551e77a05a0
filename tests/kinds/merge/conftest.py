"""Tiny models for the merge tests: state dicts and a Llama-shaped Hugging Face folder, built here."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch


def perturbed(base: dict[str, torch.Tensor], scale: float, seed: int) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return {k: v + scale * torch.randn(v.shape, generator=gen) if v.is_floating_point() else v.clone()
            for k, v in base.items()}


@pytest.fixture
def tiny_states():
    """A base and three experts: two layers, an embedding, a norm, an integer buffer."""
    gen = torch.Generator().manual_seed(0)
    base = {
        "embed_tokens.weight": torch.randn(6, 4, generator=gen),
        "layers.0.proj.weight": torch.randn(5, 4, generator=gen),
        "layers.1.proj.weight": torch.randn(5, 4, generator=gen),
        "norm.weight": torch.randn(4, generator=gen),
        "bn.num_batches_tracked": torch.tensor(7),
    }
    return base, [perturbed(base, 0.1, s) for s in (1, 2, 3)]


def build_llama(folder: Path, seed: int, base: dict | None = None, scale: float = 0.02, vocab: int = 64,
                layers: int = 3, tokenizer: bool = True) -> dict[str, torch.Tensor]:
    """Save a tiny LlamaForCausalLM (optionally a perturbation of ``base``) with a word-level tokenizer."""
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(vocab_size=vocab, hidden_size=16, intermediate_size=32, num_hidden_layers=layers,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=32, tie_word_embeddings=False)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(cfg)
    if base is not None:
        gen = torch.Generator().manual_seed(seed)
        model.load_state_dict({k: v + scale * torch.randn(v.shape, generator=gen) for k, v in base.items()})
    model.save_pretrained(folder)
    if tokenizer:
        from tokenizers import Tokenizer, models, pre_tokenizers
        from transformers import PreTrainedTokenizerFast

        vocab_map = {"[UNK]": 0, "[PAD]": 1, **{f"w{i}": i + 2 for i in range(vocab - 2)}}
        tok = Tokenizer(models.WordLevel(vocab_map, unk_token="[UNK]"))
        tok.pre_tokenizer = pre_tokenizers.Whitespace()
        PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]").save_pretrained(folder)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}
