"""train.data: Yin-Yang as published, digits split, IDX reader and its errors."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from ttfs.sim.errors import ConfigError
from ttfs.train.data import (
    DatasetInfo,
    dataset_info,
    idx_dataset,
    load_split,
    parse_dataset,
    read_idx,
    yinyang,
    yinyang_class,
)

pytestmark = pytest.mark.train


def test_yinyang_test_split_has_published_class_counts():
    X, y = load_split("yinyang", "test")
    assert X.shape == (1000, 4)
    assert np.bincount(y, minlength=3).tolist() == [350, 316, 334]


def test_yinyang_features_are_mirrored_and_labels_match_geometry():
    X, y = yinyang(300, 7)
    assert X.dtype == np.float32
    # mirrored in float64 before the float32 cast, so compare within float32 rounding
    assert np.abs(X[:, 2] + X[:, 0] - 1.0).max() <= 1.2e-7
    assert np.abs(X[:, 3] + X[:, 1] - 1.0).max() <= 1.2e-7
    r = np.sqrt((X[:, 0].astype(np.float64) - 0.5) ** 2 + (X[:, 1] - 0.5) ** 2)
    assert r.max() <= 0.5 + 1e-6
    X64, y64 = yinyang(300, 7)
    assert np.array_equal(X, X64) and np.array_equal(y, y64)
    # the label is recomputed from the float64 point the generator drew; float32 rounding could
    # move a point across a boundary, so check on the same RandomState stream directly
    rng = np.random.RandomState(7)
    goal = rng.randint(3)
    while True:
        px, py = rng.rand(2)
        if np.hypot(px - 0.5, py - 0.5) <= 0.5 and yinyang_class(px, py) == goal:
            break
    assert y[0] == goal
    assert X[0, 0] == np.float32(px) and X[0, 1] == np.float32(py)


def test_yinyang_class_regions():
    assert yinyang_class(0.75, 0.5) == 2  # right dot centre
    assert yinyang_class(0.25, 0.5) == 2  # left dot centre
    assert yinyang_class(0.5, 0.9) == 1   # top half, far from the right dot
    assert yinyang_class(0.5, 0.1) == 0   # bottom half, far from the left dot


def test_yinyang_split_sizes():
    assert load_split("yinyang", "train")[0].shape == (5000, 4)
    assert load_split("yinyang", "validation")[0].shape == (1000, 4)


def test_digits_split_is_disjoint_stratified_and_scaled():
    parts = {s: load_split("digits", s) for s in ("train", "validation", "test")}
    sizes = {s: len(v[1]) for s, v in parts.items()}
    assert sizes == {"train": 1257, "validation": 180, "test": 360}
    assert np.bincount(parts["validation"][1]).tolist() == [18] * 10
    allx = np.concatenate([v[0] for v in parts.values()])
    assert allx.min() == 0.0 and allx.max() == 1.0
    assert len(allx) == 1797
    assert dataset_info("digits").n_features == 64 and dataset_info("digits").n_classes == 10
    # the split is fixed: the same call gives the same test images
    np.testing.assert_array_equal(load_split("digits", "test")[0], parts["test"][0])


def _idx_bytes(arr: np.ndarray, type_byte: int = 0x08) -> bytes:
    head = bytes([0, 0, type_byte, arr.ndim]) + b"".join(struct.pack(">I", n) for n in arr.shape)
    return head + arr.astype(np.uint8).tobytes()


def _write_mnist(root, n_train=12, n_test=5, gz=False):
    rng = np.random.default_rng(0)
    files = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 3, 2)),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 3, 2)),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test),
    }
    for name, arr in files.items():
        data = _idx_bytes(arr)
        if gz:
            (root / (name + ".gz")).write_bytes(gzip.compress(data))
        else:
            (root / name).write_bytes(data)
    return files


@pytest.mark.parametrize("gz", [False, True])
def test_idx_reader_round_trips(tmp_path, gz):
    files = _write_mnist(tmp_path, gz=gz)
    X, y = load_split(f"idx:{tmp_path}", "test")
    assert X.shape == (5, 6) and X.dtype == np.float32
    np.testing.assert_array_equal(X * 255.0, files["t10k-images-idx3-ubyte"].reshape(5, 6))
    np.testing.assert_array_equal(y, files["t10k-labels-idx1-ubyte"])
    Xtr, ytr = idx_dataset(tmp_path, "train")
    Xva, yva = idx_dataset(tmp_path, "validation")
    assert len(ytr) + len(yva) == 12 and len(yva) == 2
    np.testing.assert_array_equal(np.concatenate([ytr, yva]), files["train-labels-idx1-ubyte"])


def test_idx_missing_file(tmp_path):
    _write_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(ConfigError) as exc:
        load_split(f"idx:{tmp_path}", "test")
    assert str(exc.value) == (
        f"IDX dataset directory {str(tmp_path)!r} has no file 't10k-labels-idx1-ubyte' "
        "(or t10k-labels-idx1-ubyte.gz)"
    )


def test_idx_missing_directory(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_split(f"idx:{tmp_path / 'nope'}", "train")


def test_idx_bad_magic(tmp_path):
    p = tmp_path / "x"
    p.write_bytes(b"\x12\x34\x08\x01" + struct.pack(">I", 1) + b"\x00")
    with pytest.raises(ConfigError) as exc:
        read_idx(p)
    assert str(exc.value).startswith(f"IDX file {str(p)!r} has bad magic 12340801")


def test_idx_truncated_data_and_header(tmp_path):
    p = tmp_path / "x"
    p.write_bytes(_idx_bytes(np.zeros((4, 2, 2)))[:-3])
    with pytest.raises(ConfigError) as exc:
        read_idx(p)
    assert str(exc.value) == (
        f"IDX file {str(p)!r} is truncated: shape (4, 2, 2) needs 16 data bytes, found 13"
    )
    p.write_bytes(b"\x00\x00\x08\x03" + b"\x00" * 5)
    with pytest.raises(ConfigError, match="truncated: its header needs 16 bytes, the file has 9"):
        read_idx(p)


def test_idx_trailing_bytes_and_count_mismatch(tmp_path):
    p = tmp_path / "x"
    p.write_bytes(_idx_bytes(np.zeros(3)) + b"\x01")
    with pytest.raises(ConfigError, match="has 1 bytes after the data of shape"):
        read_idx(p)
    _write_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(_idx_bytes(np.zeros(4)))
    with pytest.raises(ConfigError, match="IDX size mismatch: .* has 5 images, .* has 4 labels"):
        load_split(f"idx:{tmp_path}", "test")


def test_idx_corrupt_gzip(tmp_path):
    p = tmp_path / "x.gz"
    p.write_bytes(b"not gzip at all")
    with pytest.raises(ConfigError, match="cannot read IDX file"):
        read_idx(p)


def test_bad_dataset_and_split_names():
    with pytest.raises(ConfigError) as exc:
        parse_dataset("mnist")
    assert str(exc.value) == "dataset must be 'yinyang', 'digits' or 'idx:PATH', not 'mnist'"
    with pytest.raises(ConfigError) as exc:
        load_split("yinyang", "dev")
    assert str(exc.value) == "split must be one of 'train', 'validation', 'test', not 'dev'"


@pytest.mark.parametrize("bad", ["idx", "idx:", "yinyang:somewhere", "digits:x", ":x", ""])
def test_data_dataset_string_needs_a_path_exactly_where_its_kind_takes_one(bad):
    with pytest.raises(ConfigError) as exc:
        parse_dataset(bad)
    assert str(exc.value) == f"dataset must be 'yinyang', 'digits' or 'idx:PATH', not {bad!r}"


def test_data_dataset_strings_parse_through_the_table():
    assert parse_dataset("yinyang") == ("yinyang", None)
    assert parse_dataset("digits") == ("digits", None)
    assert parse_dataset("idx:/data/mnist") == ("idx", "/data/mnist")
    assert parse_dataset("idx:C:/a:b") == ("idx", "C:/a:b")
    assert dataset_info("yinyang") == DatasetInfo("yinyang", 4, 3)
    assert dataset_info("digits") == DatasetInfo("digits", 64, 10)
