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
# engine.shift.corruptions.CORRUPTIONS, which imports torch; a test checks both).
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
