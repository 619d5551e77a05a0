"""Names of every shift condition, importable without torch (for validation and pickers).

The registries with the implementations live beside this module; a test keeps the lists equal.
"""

CORRUPTION_NAMES: tuple[str, ...] = (
    "gaussian_noise",
    "shot_noise",
    "impulse_noise",
    "speckle_noise",
    "gaussian_blur",
    "defocus_blur",
    "motion_blur",
    "zoom_blur",
    "contrast",
    "brightness",
    "pixelate",
    "jpeg_compression",
    "elastic_transform",
    "fog",
    "rotate",
    "translate",
    "occlusion",
    "invert",
)
TABULAR_SHIFT_NAMES: tuple[str, ...] = ("feature_noise", "missing_features", "scale_drift")
TEXT_SHIFT_NAMES: tuple[str, ...] = ("char_typos", "word_drop")
SEVERITIES: tuple[int, ...] = (1, 2, 3, 4, 5)
