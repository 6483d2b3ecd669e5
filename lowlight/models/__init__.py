"""Networks: generators, discriminators (and later DCE-Net)."""
