"""Names the command-line parsers offer, kept apart from the modules that use them so that
`--help` builds without importing torch."""

ARCHS = ("auto", "run", "zero_dce")  # what a model file is (lowlight.loading.load_model)
DEFAULT_OVERLAP = 64  # tile overlap in px for whole-image networks (lowlight.inference)
SR_DEGRADATIONS = ("bicubic", "avgpool_upsample")  # LR made from HR (lowlight.data.sr)
LPIPS_NETS = ("alex", "vgg", "squeeze")  # LPIPS backbones (lowlight.metrics.lpips)
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
