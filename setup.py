from setuptools import find_packages, setup

setup(
    name="tfprune",
    version="0.1.0",
    description="Layer-adaptive and at-initialisation pruning for Keras, on top of TF-MOT",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["tfprune", "tfprune.*"]),
    python_requires=">=3.10",
    install_requires=[
        "tensorflow>=2.21,<2.22",
        "tf-keras>=2.21,<2.22",
        "tensorflow-model-optimization==0.8.1",
        "tensorflow-datasets>=4.9",
        "keras-tuner>=1.4.8,<1.5",
        "tensorboard>=2.21,<2.22",
        "ai-edge-litert>=2.0",
        "scikit-learn>=1.3",
        "mnist1d>=0.0.2",
        "matplotlib>=3.7",
        "click>=8.1",
        "tqdm>=4.66",
        "numpy>=1.26",
    ],
    extras_require={"test": ["pytest>=8", "pytest-timeout>=2.2"]},
    entry_points={"console_scripts": ["tfprune=tfprune.cli:main"]},
)
