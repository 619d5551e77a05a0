"""Where a classifier's head and blocks are, per architecture.

Every method needs the same two facts about a model: which linear layer turns features into class
scores (the *head*: probed, replaced, saved whole by adapters) and how the rest is cut into blocks
(last-k-blocks tuning). The built-in architectures are known by type; Hugging Face models by their
config; anything else by a generic rule (the last linear layer with one output per class).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from engine.core.errors import ModelError
from engine.kinds.finetune.wrapping import base_module, plain_named_modules, unwrap_layer
from engine.models.base import Classifier

if TYPE_CHECKING:
    from torch import nn

Family = Literal["mlp", "cnn", "vit", "bow", "transformers", "generic"]


@dataclass(frozen=True)
class Layout:
    """What the methods need to know about one model's structure.

    ``head`` is the dotted name of the final linear layer (one output per class); ``head_module``
    the module trained and saved whole by adapter methods (PEFT's ``modules_to_save``): the head
    itself, or for a transformers model its whole classification head (``classifier``, which for
    RoBERTa holds a dense layer before the output layer). ``blocks`` lists, in forward order, the
    module names of each block before the head.
    """

    architecture: str
    family: Family
    head: str
    head_module: str
    blocks: tuple[tuple[str, ...], ...]
    model_type: str | None = None  # transformers' config.model_type

    def describe(self) -> str:
        """The architecture in words for messages: 'the built-in cnn', 'the bert model (BertForSequence…)'."""
        if self.family in ("mlp", "cnn", "vit", "bow"):
            return f"the built-in {self.family}"
        if self.model_type:
            return f"the {self.model_type} model ({self.architecture})"
        return f"the {self.architecture} model"


_BUILTIN_BLOCKS: dict[str, tuple[tuple[str, ...], ...]] = {
    "MLP": (("body.0",), ("body.2",)),
    "SmallCNN": (("features.0", "features.1"), ("features.3", "features.4"), ("features.7", "features.8")),
    "TinyViT": (("encoder.layers.0",), ("encoder.layers.1",)),
    "HashedBow": (("body.0",),),
}
_BUILTIN_HEADS = {"MLP": "body.4", "SmallCNN": "head", "TinyViT": "head", "HashedBow": "body.2"}
_BUILTIN_FAMILY: dict[str, Family] = {"MLP": "mlp", "SmallCNN": "cnn", "TinyViT": "vit", "HashedBow": "bow"}


def layout_of(model: Classifier) -> Layout:
    """The layout of a classifier, or a plain ModelError when it has no head to tune."""
    from engine.models import builtin

    module = base_module(model.module)
    n_classes = len(model.info.class_names)
    kind = type(module).__name__
    if isinstance(module, (builtin.MLP, builtin.SmallCNN, builtin.TinyViT, builtin.HashedBow)):
        head = _BUILTIN_HEADS[kind]
        _check_head(module, head, n_classes, model)
        return Layout(model.info.architecture, _BUILTIN_FAMILY[kind], head, head, _BUILTIN_BLOCKS[kind])
    head = _last_class_linear(module, n_classes, model)
    config = getattr(module, "config", None)
    model_type = getattr(config, "model_type", None)
    if model_type is not None:
        prefix = getattr(module, "base_model_prefix", "")
        top = head.split(".")[0]
        head_module = top if top != prefix else head
        return Layout(model.info.architecture, "transformers", head, head_module, _repeated_blocks(module, head), model_type)
    return Layout(model.info.architecture, "generic", head, head, _repeated_blocks(module, head))


def _check_head(module: "nn.Module", head: str, n_classes: int, model: Classifier) -> None:
    from torch import nn

    layer = unwrap_layer(module.get_submodule(head))
    if not isinstance(layer, nn.Linear) or (n_classes and layer.out_features != n_classes):
        raise not_a_classifier(model, f"its layer '{head}' is not a linear layer with {n_classes} outputs")


def _last_class_linear(module: "nn.Module", n_classes: int, model: Classifier) -> str:
    """The last linear layer with one output per class, in registration (forward) order."""
    from torch import nn

    if n_classes < 2:
        raise not_a_classifier(model, f"it names {n_classes} class{'es' if n_classes != 1 else ''}")
    found = [name for name, m in plain_named_modules(module) if isinstance(m, nn.Linear) and m.out_features == n_classes]
    if not found:
        raise not_a_classifier(model, f"no linear layer in it has {n_classes} outputs (one per class)")
    return found[-1]


def not_a_classifier(model: Classifier, why: str) -> ModelError:
    return ModelError(
        f"Model '{model.info.source}' is not a classifier Juxta can fine-tune: {why}. Fine-tuning needs a model "
        "that ends in a linear layer with one output per class (an image or text classifier)."
    )


def _repeated_blocks(module: "nn.Module", head: str) -> tuple[tuple[str, ...], ...]:
    """Blocks of a model Juxta does not know by type.

    The longest list of same-typed sub-modules (``bert.encoder.layer``, a ResNet's stages) when there
    is one with at least two entries; otherwise every layer that holds weights, in order.
    """
    from torch import nn

    best: tuple[str, ...] = ()
    for name, m in module.named_modules():
        if isinstance(m, nn.ModuleList) and len(m) >= 2 and len({type(c) for c in m}) == 1 and len(m) > len(best):
            best = tuple(f"{name}.{i}" for i in range(len(m)))
    if best:
        return tuple((b,) for b in best)
    leaves = [
        name for name, m in module.named_modules()
        if name and not list(m.children()) and any(True for _ in m.parameters(recurse=False))
        and name != head and not name.startswith(head + ".")
    ]
    return tuple((n,) for n in leaves)
