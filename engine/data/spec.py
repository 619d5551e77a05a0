"""How a study file names a dataset: the tables every kind uses for its data ([data] in a shift study).

Pydantic models only (no numpy at import); ``DataColumns.options()`` turns a table into the loaders'
``DataOptions``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from engine.core.header import MAX_SEED, Strict, checked_source

# What these fields are called in messages (see engine.core.messages); "*." names a column field in any table.
DATA_WORDS: dict[str, str | tuple[str, str]] = {
    "data": "the [data] table",
    "data.source": "the dataset source",
    "data.split": "the evaluated split",
    "data.splits": "the split shares",
    "data.splits.train": "the train share",
    "data.splits.validation": "the validation share",
    "data.splits.test": "the test share",
    "data.split_seed": "the split seed",
    "data.max_examples": "the maximum number of examples",
    "*.label_column": "the label column",
    "*.text_column": "the text column",
    "*.image_column": "the image column",
    "*.group_column": "the group column",
    "*.feature_columns": ("the feature columns", "a feature column"),
    "*.hf_split": "the Hugging Face split",
    "*.hf_config": "the Hugging Face configuration",
    "*.image_size": "the image size",
    "*.grayscale": "the grayscale setting",
}


class DataColumns(Strict):
    label_column: str = "label"
    text_column: str | None = None
    image_column: str | None = None
    group_column: str | None = None
    feature_columns: list[str] | None = None
    hf_split: str | None = None
    hf_config: str | None = None
    image_size: int | None = Field(default=None, ge=4, le=1024)
    grayscale: bool = False

    def options(self):  # -> DataOptions (import kept local: no numpy at schema import)
        from engine.data.base import DataOptions

        return DataOptions(
            label_column=self.label_column,
            text_column=self.text_column,
            image_column=self.image_column,
            group_column=self.group_column,
            feature_columns=tuple(self.feature_columns) if self.feature_columns else None,
            hf_split=self.hf_split,
            hf_config=self.hf_config,
            image_size=self.image_size,
            grayscale=self.grayscale,
        )


class Splits(Strict):
    train: float = Field(default=0.7, ge=0, le=1)
    validation: float = Field(default=0.1, ge=0, le=1)
    test: float = Field(default=0.2, gt=0, le=1)

    @model_validator(mode="after")
    def _sum(self) -> "Splits":
        total = self.train + self.validation + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"split fractions must add up to 1 (they add up to {total:g})")
        return self


class DataSpec(DataColumns):
    source: str
    split: Literal["train", "validation", "test", "all"] = "test"
    splits: Splits = Field(default_factory=Splits)
    split_seed: int = Field(default=0, ge=0, le=MAX_SEED)
    max_examples: int | None = Field(default=None, ge=1)

    @field_validator("source")
    @classmethod
    def _source(cls, v: str) -> str:
        return checked_source(v, "data")


def data_spec(d: DataSpec) -> dict[str, Any]:
    """What a result computed on this dataset depends on, as a cell's spec records it (before the
    planner adds the evaluated rows' fingerprint); ``engine.data.loaders.load_split`` reads it back."""
    return {
        "source": d.source,
        "options": d.model_dump(exclude={"source", "split", "splits", "split_seed", "max_examples"}),
        "split": d.split,
        "splits": d.splits.model_dump(),
        "split_seed": d.split_seed,
        "max_examples": d.max_examples,
    }
