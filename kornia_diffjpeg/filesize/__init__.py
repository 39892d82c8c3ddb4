"""JPEG file size: the exact byte count, a smooth differentiable estimate and a trainable regressor."""

__all__: list[str] = []
