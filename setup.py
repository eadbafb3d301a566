import os
import re

from setuptools import find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def read_version():
    """The version from tfprune/_version.py, its one home (tfprune itself is not imported)."""
    with open(os.path.join(HERE, "tfprune", "_version.py"), encoding="utf-8") as f:
        match = re.search(r"""^__version__\s*=\s*["']([^"']+)["']""", f.read(), flags=re.M)
    if match is None:
        raise RuntimeError("tfprune/_version.py: no __version__ = '...' line")
    return match.group(1)


with open(os.path.join(HERE, "README.md"), encoding="utf-8") as f:
    README = f.read()

# Lower bounds everywhere; an upper bound only where tfprune relies on a private API.
EXTRAS = {
    # Keras Tuner search (tfprune.tuning): PruningTuner subclasses keras_tuner's BaseTuner and uses
    # its internals (BaseTuner._is_worker, keras_tuner.src.distribute, keras_tuner.src.engine):
    # private API, hence the upper bound. matplotlib draws the Pareto plot.
    "tune": ["keras-tuner>=1.4.8,<1.5", "tensorboard>=2.21", "matplotlib>=3.7"],
    # TFLite/LiteRT export (tfprune.export) reads files through ai_edge_litert.schema_py_generated
    # and ai_edge_litert.tools.flatbuffer_utils (not a documented API; tools/ since 2.1).
    "export": ["ai-edge-litert>=2.1,<3"],
    # Data sets (tfprune.data): digits from scikit-learn, MNIST-1D, TensorFlow Datasets.
    "data": ["tensorflow-datasets>=4.9", "scikit-learn>=1.3", "mnist1d>=0.0.2"],
    # The tfprune command line: options, progress bars, report plots.
    "cli": ["click>=8.1", "tqdm>=4.66", "matplotlib>=3.7"],
    # The documentation site (mkdocs.yml; `make docs`): the material theme, and the API reference
    # rendered from the docstrings by mkdocstrings.
    "docs": ["mkdocs>=1.6", "mkdocs-material>=9.5", "mkdocstrings[python]>=0.26"],
}
EXTRAS["all"] = sorted({req for name in ("tune", "export", "data", "cli") for req in EXTRAS[name]})
# The tests exercise every extra, build the documentation site (tests/test_docs_site.py) and
# build Keras 3 models to check they are refused.
EXTRAS["test"] = ["pytest>=8", "pytest-timeout>=2.2", "keras>=3", *EXTRAS["all"], *EXTRAS["docs"]]

setup(
    name="tfprune",
    version=read_version(),
    description="Layer-adaptive and at-initialisation pruning for Keras, on top of TF-MOT",
    long_description=README,
    long_description_content_type="text/markdown",
    packages=find_packages(include=["tfprune", "tfprune.*"]),
    package_data={"tfprune": ["py.typed"]},
    zip_safe=False,
    python_requires=">=3.10",
    install_requires=[
        "tensorflow>=2.21",
        "tf-keras>=2.21",  # pins the matching TensorFlow minor version itself
        # tfprune reads PruneRegistry's private tables (tfprune.layers) and subclasses
        # pruning_impl.Pruning (tfprune.wrapper): private API, hence the upper bound.
        "tensorflow-model-optimization>=0.8.1,<0.9",
        "numpy>=1.26",
    ],
    extras_require=EXTRAS,
    entry_points={"console_scripts": ["tfprune=tfprune.cli:main"]},
)
