"""How a study file names a model: the ``[[models]]`` entries (a shift study's arms; any kind's model list)."""

from __future__ import annotations

from pydantic import Field, field_validator

from engine.core.header import Identifier, Strict, checked_source

# What these fields are called in messages (see engine.core.messages).
MODEL_WORDS: dict[str, str | tuple[str, str]] = {
    "models": ("the [[models]] list", "a [[models]] entry"),
    "models.id": "the model id",
    "models.source": "the model source",
    "models.trust_remote_code": "the trust_remote_code setting",
    "models.train": "the training overrides",
    "models.train.epochs": "the number of training epochs",
    "models.train.lr": "the learning rate",
    "models.train.batch_size": "the training batch size",
    "models.train.weight_decay": "the weight decay",
}


class TrainSpec(Strict):
    """Overrides of a built-in model's training recipe."""

    epochs: int | None = Field(default=None, ge=1, le=1000)
    lr: float | None = Field(default=None, gt=0, le=1)
    batch_size: int | None = Field(default=None, ge=1, le=65536)
    weight_decay: float | None = Field(default=None, ge=0, le=1)


class ModelSpec(Strict):
    id: Identifier
    source: str
    trust_remote_code: bool = False
    train: TrainSpec | None = None

    @field_validator("source")
    @classmethod
    def _source(cls, v: str) -> str:
        return checked_source(v, "model")
