"""Real JPEG files: a batched writer byte-identical to libjpeg-turbo and a reader of baseline files."""

from kornia_diffjpeg.io.decode import decode_jpeg
from kornia_diffjpeg.io.encode import encode_jpeg

__all__ = ["decode_jpeg", "encode_jpeg"]
