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

# One plain sentence per corruption, for pickers and tooltips (kept equal to the descriptions in
# engine.conditions.corruptions.CORRUPTIONS, which imports torch; a test checks both).
CORRUPTION_DESCRIPTIONS: dict[str, str] = {
    "gaussian_noise": "Adds fine random grain to every pixel, like a photo taken in poor light.",
    "shot_noise": "Adds grain that grows with brightness, like a camera sensor catching too little light.",
    "impulse_noise": "Turns a random few pixel values pure black or pure white, like dead sensor pixels.",
    "speckle_noise": "Multiplies every pixel by a random factor, so bright areas get grainier than dark ones.",
    "gaussian_blur": "Softens the whole image evenly, as if seen through frosted glass.",
    "defocus_blur": "Blurs the image through a round lens opening, like a camera focused at the wrong distance.",
    "motion_blur": "Smears the image in one random direction, as if the camera moved during the shot.",
    "zoom_blur": "Smears the image outward from its centre, as if the lens zoomed during the shot.",
    "contrast": "Pulls every pixel toward the image's average colour, so it looks flat and washed out.",
    "brightness": "Makes the image brighter, like an over-exposed photo.",
    "pixelate": "Rebuilds the image from coarser square blocks, as if stored small and enlarged.",
    "jpeg_compression": "Saves the image as a low-quality JPEG, adding blocky compression artefacts.",
    "elastic_transform": "Bends the picture with small random local stretches, like a view through rippled glass.",
    "fog": "Lays a patchy veil of haze over the image and lowers its contrast.",
    "rotate": "Turns the image by a fixed angle, clockwise or anticlockwise at random.",
    "translate": "Shifts the image in a random direction, repeating its edge pixels into the gap.",
    "occlusion": "Covers a randomly placed square of the image with flat grey.",
    "invert": "Blends the image toward its photographic negative; at full strength black becomes white.",
}


# The one display name of every shift family, as it reads in a picker, a table row, a chart and a
# sentence ("Under reduced contrast at severity 5"); every page takes names from here.
FAMILY_LABELS: dict[str, str] = {
    "gaussian_noise": "Gaussian noise",
    "shot_noise": "shot noise",
    "impulse_noise": "impulse noise",
    "speckle_noise": "speckle noise",
    "gaussian_blur": "Gaussian blur",
    "defocus_blur": "defocus blur",
    "motion_blur": "motion blur",
    "zoom_blur": "zoom blur",
    "contrast": "reduced contrast",
    "brightness": "increased brightness",
    "pixelate": "pixelation",
    "jpeg_compression": "JPEG compression",
    "elastic_transform": "elastic distortion",
    "fog": "fog",
    "rotate": "rotation",
    "translate": "translation",
    "occlusion": "occlusion",
    "invert": "colour inversion",
    "feature_noise": "feature noise",
    "missing_features": "missing features",
    "scale_drift": "scale drift",
    "char_typos": "character typos",
    "word_drop": "dropped words",
    "dirichlet": "label shift (Dirichlet)",
    "tweak_one": "label shift (one class)",
    "imbalance": "class imbalance",
    "group": "group shift",
    "field": "field data",
}
NBSP = "\u00a0"


def family_label(family: str) -> str:
    """'contrast' -> 'reduced contrast' (unknown families read with spaces for underscores)."""
    return FAMILY_LABELS.get(family, family.replace("_", " "))


def condition_family(condition: str) -> str:
    """The family part of a condition id: 'gaussian_noise/3' -> 'gaussian_noise', 'clean' -> 'clean'."""
    return condition.split("/", 1)[0]


def condition_label(condition: str) -> str:
    """The display name of a condition id: 'Gaussian noise · 3', 'label shift, α = 0.3',
    'label shift, one class at 50%', 'class imbalance 10:1', 'group a at 20%', 'field: phone'."""
    if condition == "clean":
        return "clean"
    family, _, tail = condition.partition("/")
    if not tail:
        return family_label(family)
    if family in CORRUPTION_NAMES or family in TABULAR_SHIFT_NAMES or family in TEXT_SHIFT_NAMES:
        return f"{family_label(family)} \u00b7 {tail}"
    if family == "dirichlet":
        return f"label shift, \u03b1{NBSP}={NBSP}{tail}"
    if family == "tweak_one":
        return f"label shift, one class at {_percent(tail)}"
    if family == "imbalance":
        return f"class imbalance {tail}:1"
    if family == "group" and "=" in tail:
        group, _, share = tail.rpartition("=")
        return f"group {group} at {_percent(share)}"
    if family == "field":
        return f"field: {tail}"
    return condition


def _percent(text: str) -> str:
    try:
        return f"{100 * float(text):g}%"
    except ValueError:
        return text
