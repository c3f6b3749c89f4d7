"""Datasets for training: Yin-Yang, scikit-learn digits, and MNIST-style IDX files.

Every loader returns ``(X, y)``: ``X`` a ``float32`` array of shape ``(N, n_features)`` with
values in ``[0, 1]`` (the range the TTFS encoder of :mod:`sim.encode` expects), ``y`` an
``int64`` array of class labels ``0 .. n_classes-1``. Nothing is downloaded; the IDX reader reads
files the user points to.

Dataset strings (what :func:`load_split` and the command line accept):

``yinyang``
    Kriener et al.'s Yin-Yang set, generated exactly as DESIGN section 7 defines it (see
    :func:`yinyang`). Splits ``train`` 5000 (seed 42), ``validation`` 1000 (seed 41), ``test``
    1000 (seed 40). Four features ``[x, y, 1-x, 1-y]``, three classes (yin, yang, dot).
``digits``
    scikit-learn's 8x8 digits (1797 images, 64 features scaled from ``0..16`` to ``[0, 1]``), split
    by a fixed seeded stratified split: test 360, validation 180, train the remaining 1257.
``idx:PATH``
    MNIST or Fashion-MNIST in IDX format: ``PATH`` is a directory holding the standard four files
    ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
    ``t10k-labels-idx1-ubyte``, each optionally gzipped (``.gz``). Pixels are scaled from
    ``0..255`` to ``[0, 1]`` and flattened; ``validation`` is the last 5000 training images
    (``train`` the rest), ``test`` the t10k files.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ttfs.sim.errors import ConfigError

__all__ = [
    "SPLITS",
    "DatasetInfo",
    "yinyang",
    "yinyang_class",
    "digits",
    "read_idx",
    "idx_dataset",
    "load_split",
    "dataset_info",
    "parse_dataset",
]

SPLITS = ("train", "validation", "test")

#: Yin-Yang split sizes and seeds (Kriener et al.'s published splits).
YINYANG_SPLITS = {"train": (5000, 42), "validation": (1000, 41), "test": (1000, 40)}
YINYANG_R_SMALL = 0.1
YINYANG_R_BIG = 0.5

#: Digits: the seed of the stratified split and the sizes of its test and validation parts.
DIGITS_SEED = 0
DIGITS_TEST = 360
DIGITS_VALIDATION = 180

IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
IDX_VALIDATION = 5000


@dataclass(frozen=True)
class DatasetInfo:
    """What a model needs to know about a dataset: its name, input width and class count."""

    name: str
    n_features: int
    n_classes: int


# -- Yin-Yang ---------------------------------------------------------------------------------


def yinyang_class(x: float, y: float) -> int:
    """The Yin-Yang class of a point inside the big circle: 0 yin, 1 yang, 2 dot.

    With ``d_r``, ``d_l`` the distances to the right dot centre ``(0.75, 0.5)`` and the left one
    ``(0.25, 0.5)``: 2 if ``d_r < 0.1 or d_l < 0.1``; else 1 if ``d_r <= 0.1 or
    0.1 < d_l <= 0.25 or (y > 0.5 and d_r > 0.25)``; else 0.
    """
    rs, rb = YINYANG_R_SMALL, YINYANG_R_BIG
    d_r = np.sqrt((x - 1.5 * rb) ** 2 + (y - rb) ** 2)
    d_l = np.sqrt((x - 0.5 * rb) ** 2 + (y - rb) ** 2)
    if d_r < rs or d_l < rs:
        return 2
    return int(d_r <= rs or rs < d_l <= 0.5 * rb or (y > rb and d_r > 0.5 * rb))


def yinyang(size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Generate ``size`` Yin-Yang samples from ``numpy.random.RandomState(seed)``.

    The order of random draws is part of the definition (it is what makes the published splits
    reproducible): per sample, ``randint(3)`` draws the goal class, then pairs ``rand(2)`` (scaled
    to ``[0, 1)``) are drawn until one lies inside the circle of radius 0.5 at ``(0.5, 0.5)`` and
    has the goal class. Features are ``[x, y, 1-x, 1-y]``.
    """
    if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size < 0:
        raise ConfigError(f"Yin-Yang size must be a non-negative integer, not {size!r}")
    rng = np.random.RandomState(seed)
    rb = YINYANG_R_BIG
    X = np.empty((size, 4), dtype=np.float64)
    y = np.empty(size, dtype=np.int64)
    for n in range(size):
        goal = rng.randint(3)
        while True:
            px, py = rng.rand(2) * 2.0 * rb
            if np.sqrt((px - rb) ** 2 + (py - rb) ** 2) > rb:
                continue
            if yinyang_class(px, py) == goal:
                break
        X[n] = (px, py, 1.0 - px, 1.0 - py)
        y[n] = goal
    return X.astype(np.float32), y


# -- digits -----------------------------------------------------------------------------------


def digits(split: str) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits, scaled to ``[0, 1]``, one part of a fixed stratified split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    _check_split(split)
    d = load_digits()
    X = (d.data / 16.0).astype(np.float32)
    y = d.target.astype(np.int64)
    idx = np.arange(len(y))
    rest, test = train_test_split(
        idx, test_size=DIGITS_TEST, random_state=DIGITS_SEED, stratify=y
    )
    train, val = train_test_split(
        rest, test_size=DIGITS_VALIDATION, random_state=DIGITS_SEED, stratify=y[rest]
    )
    part = {"train": train, "validation": val, "test": test}[split]
    part = np.sort(part)
    return X[part], y[part]


# -- IDX (MNIST / Fashion-MNIST) ----------------------------------------------------------------

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (gzipped if its name ends in ``.gz``) into a numpy array.

    Format: two zero bytes, a type byte (``0x08`` uint8 ... ``0x0E`` float64), a byte with the
    number of dimensions ``d``, ``d`` big-endian 32-bit sizes, then the data. Raises
    :class:`ConfigError` for a missing file, a bad magic number, a header or data that is
    truncated, or trailing bytes.
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"IDX file {str(p)!r} does not exist")
    try:
        if p.name.endswith(".gz"):
            with gzip.open(p, "rb") as f:
                raw = f.read()
        else:
            raw = p.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise ConfigError(f"cannot read IDX file {str(p)!r}: {exc}") from None
    if len(raw) < 4:
        raise ConfigError(f"IDX file {str(p)!r} is truncated: {len(raw)} bytes, no header")
    if raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ConfigError(
            f"IDX file {str(p)!r} has bad magic {raw[:4].hex()}; expected 0000 followed by a "
            "type byte 08, 09, 0b, 0c, 0d or 0e and the number of dimensions"
        )
    ndim = raw[3]
    head = 4 + 4 * ndim
    if ndim == 0 or len(raw) < head:
        raise ConfigError(
            f"IDX file {str(p)!r} is truncated: its header needs {head} bytes, the file has "
            f"{len(raw)}" if ndim else f"IDX file {str(p)!r} declares 0 dimensions"
        )
    shape = tuple(int.from_bytes(raw[4 + 4 * k: 8 + 4 * k], "big") for k in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    need = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    have = len(raw) - head
    if have < need:
        raise ConfigError(
            f"IDX file {str(p)!r} is truncated: shape {shape} needs {need} data bytes, "
            f"found {have}"
        )
    if have > need:
        raise ConfigError(
            f"IDX file {str(p)!r} has {have - need} bytes after the data of shape {shape}"
        )
    return np.frombuffer(raw, dtype=dtype, count=need // dtype.itemsize, offset=head).reshape(shape)


def _idx_file(root: Path, name: str) -> Path:
    for cand in (root / name, root / (name + ".gz")):
        if cand.is_file():
            return cand
    raise ConfigError(f"IDX dataset directory {str(root)!r} has no file {name!r} (or {name}.gz)")


def idx_dataset(root: str | os.PathLike, split: str) -> tuple[np.ndarray, np.ndarray]:
    """One split of an MNIST-style IDX directory (see the module docstring)."""
    _check_split(split)
    r = Path(root)
    if not r.is_dir():
        raise ConfigError(f"IDX dataset directory {str(r)!r} does not exist")
    img_name, lab_name = IDX_FILES["test" if split == "test" else "train"]
    img_path, lab_path = _idx_file(r, img_name), _idx_file(r, lab_name)
    images = read_idx(img_path)
    labels = read_idx(lab_path)
    if images.ndim < 2:
        raise ConfigError(
            f"IDX images {str(img_path)!r} must have >= 2 dimensions, not {images.ndim}"
        )
    if labels.ndim != 1:
        raise ConfigError(f"IDX labels {str(lab_path)!r} must be 1-D, not {labels.ndim}-D")
    if images.shape[0] != labels.shape[0]:
        raise ConfigError(
            f"IDX size mismatch: {str(img_path)!r} has {images.shape[0]} images, "
            f"{str(lab_path)!r} has {labels.shape[0]} labels"
        )
    if images.dtype != np.uint8:
        raise ConfigError(f"IDX images {str(img_path)!r} must be uint8, not {images.dtype}")
    X = images.reshape(images.shape[0], -1).astype(np.float32) / 255.0
    y = labels.astype(np.int64)
    if y.size and y.min() < 0:
        raise ConfigError(f"IDX labels {str(lab_path)!r} contain negative label {int(y.min())}")
    if split != "test":
        n_val = min(IDX_VALIDATION, len(y) // 6)
        cut = len(y) - n_val
        X, y = (X[:cut], y[:cut]) if split == "train" else (X[cut:], y[cut:])
    return X, y


# -- dispatch ----------------------------------------------------------------------------------


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ConfigError(f"split must be one of 'train', 'validation', 'test', not {split!r}")


def parse_dataset(dataset: str) -> tuple[str, str | None]:
    """Split a dataset string into ``(kind, path)``: ``('yinyang', None)``, ``('idx', PATH)``."""
    if not isinstance(dataset, str):
        raise ConfigError(f"dataset must be a string, not {type(dataset).__name__}")
    if dataset in ("yinyang", "digits"):
        return dataset, None
    if dataset.startswith("idx:") and len(dataset) > 4:
        return "idx", dataset[4:]
    raise ConfigError(
        f"dataset must be 'yinyang', 'digits' or 'idx:PATH', not {dataset!r}"
    )


def load_split(dataset: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)`` of one split (``train``, ``validation`` or ``test``) of a dataset string."""
    kind, path = parse_dataset(dataset)
    _check_split(split)
    if kind == "yinyang":
        size, seed = YINYANG_SPLITS[split]
        return yinyang(size, seed)
    if kind == "digits":
        return digits(split)
    return idx_dataset(path, split)


def dataset_info(dataset: str) -> DatasetInfo:
    """Input width and class count of a dataset string (reads the test split for ``idx:``)."""
    kind, _ = parse_dataset(dataset)
    if kind == "yinyang":
        return DatasetInfo("yinyang", 4, 3)
    if kind == "digits":
        return DatasetInfo("digits", 64, 10)
    X, y = load_split(dataset, "test")
    Xt, yt = load_split(dataset, "train")
    return DatasetInfo(dataset, int(X.shape[1]), int(max(y.max(), yt.max())) + 1)
