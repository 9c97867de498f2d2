"""keras_har: ultra-lightweight human activity recognition for microcontrollers."""

from setuptools import find_packages, setup

# Versions that were installed and run together on Python 3.11 (see
# docs/toolchain.md). Ranges stay within the minor releases that
# were tested, because TensorFlow, tf-keras and tfmot move in lock step.
INSTALL_REQUIRES = [
    # `tensorflow` (not `tensorflow-cpu`): tf-keras declares a dependency on
    # `tensorflow`, so asking for the CPU-only wheel would install both.
    "tensorflow>=2.21,<2.22",
    "tf-keras>=2.21,<2.22",
    "keras>=3.15,<3.16",
    "tensorflow-model-optimization>=0.8.1,<0.9",
    "keras-tuner>=1.4.8,<1.5",
    "tensorboard>=2.21,<2.22",
    "numpy>=2.4,<2.5",
    "pandas>=3.1,<3.2",
    "scikit-learn>=1.9,<1.10",
    "scipy>=1.17,<1.18",
    "matplotlib>=3.11,<3.12",
    "tqdm>=4.70,<5",
    # A lock file per firmware object cache: processes that build the same TFLM library take turns.
    "filelock>=3.20,<5",
    "protobuf>=7.36,<8",
    "absl-py>=1.4,<1.5",
    "dm-tree>=0.1.10,<0.2",
    "ai-edge-litert==2.3.0",
    "tflite-micro==0.dev20261023182759",
]

setup(
    name="keras_har",
    version="0.1.0",
    description="Ultra-lightweight human activity recognition (TinierHAR) in Keras, for microcontrollers",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["keras_har", "keras_har.*"]),
    # The firmware core and test runner, compiled by keras_har.firmware and copied into every export.
    package_data={"keras_har.firmware": ["src/*.h", "src/*.cc", "src/*.c"]},
    python_requires=">=3.10,<3.13",
    install_requires=INSTALL_REQUIRES,
    extras_require={"dev": ["pytest>=9,<10", "pytest-timeout>=2.3", "pytest-xdist>=3.6"]},
    entry_points={"console_scripts": ["keras-har=keras_har.cli:main"]},
    license="Apache-2.0",
)
