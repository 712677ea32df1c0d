"""The CustomResourceDefinition manifests that ship with the operator, from ``crds/``."""

import importlib.resources
import pathlib


def crd_paths() -> list[pathlib.Path]:
    """Return the paths of the bundled CRD manifests, sorted by name."""
    folder = importlib.resources.files("serverops.crds")
    paths = [pathlib.Path(str(entry)) for entry in folder.iterdir() if entry.name.endswith(".yaml")]
    return sorted(paths)
