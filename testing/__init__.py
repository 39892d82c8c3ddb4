"""Support code for the tests, benchmarks and examples; not part of the installed package.

* :mod:`testing.reference`: the real codec (libjpeg-turbo through OpenCV and Pillow);
* :mod:`testing.datasets`: photos and labelled images that install offline;
* :mod:`testing.pretrained`: a pretrained ImageNet classifier that installs offline;
* :mod:`testing.metrics`: PSNR and other shared measures.

The repository root must be importable: ``scripts/setup_env.sh`` adds it to the development
environment, and pytest adds it through ``pythonpath`` in ``pyproject.toml``.
"""
