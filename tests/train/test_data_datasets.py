"""train.data: Yin-Yang as published, digits split, IDX reader and its errors."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from ttfs.sim.errors import ConfigError
from ttfs.train.data import (
    DatasetInfo,
    check_scaling,
    dataset_info,
    dataset_scaling,
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


def test_mnist1d_is_the_packages_dataset_split_and_scaled_by_the_training_percentiles():
    import random

    from mnist1d.data import get_dataset_args, make_dataset

    np.random.seed(123)
    random.seed(123)
    before = (np.random.random(), random.random())
    np.random.seed(123)
    random.seed(123)
    parts = {s: load_split("mnist1d", s) for s in ("train", "validation", "test")}
    # generating it leaves the caller's global random streams where they were
    assert (np.random.random(), random.random()) == before
    assert {s: v[0].shape for s, v in parts.items()} == {
        "train": (3500, 40), "validation": (500, 40), "test": (1000, 40)}
    assert all(v[0].dtype == np.float32 and v[1].dtype == np.int64 for v in parts.values())
    # the package's own arrays (its defaults, seed 42): the split and the scaling are ours
    d = make_dataset(get_dataset_args())
    x, y = d["x"], d["y"]
    lo, hi = np.percentile(x[:3500], [1, 99])
    np.testing.assert_array_equal(parts["train"][1], y[:3500])
    np.testing.assert_array_equal(parts["validation"][1], y[3500:])
    np.testing.assert_array_equal(parts["test"][1], d["y_test"])
    np.testing.assert_allclose(parts["validation"][0], np.clip((x[3500:] - lo) / (hi - lo), 0, 1),
                               atol=1e-6)
    np.testing.assert_allclose(parts["test"][0], np.clip((d["x_test"] - lo) / (hi - lo), 0, 1),
                               atol=1e-6)
    train = parts["train"][0]
    assert train.min() == 0.0 and train.max() == 1.0
    # 1 % of the training values clip at each end, and nothing else reaches 0 or 1
    assert abs((train == 0.0).mean() - 0.01) < 1e-3 and abs((train == 1.0).mean() - 0.01) < 1e-3
    assert sorted(set(parts["test"][1].tolist())) == list(range(10))
    # each call hands out its own copy
    parts["test"][0][0, 0] = -1.0
    assert load_split("mnist1d", "test")[0][0, 0] >= 0.0


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
    assert str(exc.value) == (
        "dataset must be 'yinyang', 'digits', 'mnist1d', 'idx:PATH', 'npz:PATH' or 'csv:PATH', "
        "not 'mnist'")
    with pytest.raises(ConfigError) as exc:
        load_split("yinyang", "dev")
    assert str(exc.value) == "split must be one of 'train', 'validation', 'test', not 'dev'"


@pytest.mark.parametrize("bad", ["idx", "idx:", "yinyang:somewhere", "digits:x", ":x", "", "npz",
                                 "csv:"])
def test_data_dataset_string_needs_a_path_exactly_where_its_kind_takes_one(bad):
    with pytest.raises(ConfigError) as exc:
        parse_dataset(bad)
    assert str(exc.value) == f"dataset must be {KINDS}, not {bad!r}"


def test_data_dataset_strings_parse_through_the_table():
    assert parse_dataset("yinyang") == ("yinyang", None)
    assert parse_dataset("digits") == ("digits", None)
    assert parse_dataset("idx:/data/mnist") == ("idx", "/data/mnist")
    assert parse_dataset("idx:C:/a:b") == ("idx", "C:/a:b")
    assert parse_dataset("npz:d.npz") == ("npz", "d.npz")
    assert parse_dataset("csv:data/") == ("csv", "data/")
    assert dataset_info("yinyang") == DatasetInfo("yinyang", 4, 3)
    assert dataset_info("digits") == DatasetInfo("digits", 64, 10)
    assert parse_dataset("mnist1d") == ("mnist1d", None)
    assert dataset_info("mnist1d") == DatasetInfo("mnist1d", 40, 10)


# -- user data: npz and csv --------------------------------------------------------------------

KINDS = "'yinyang', 'digits', 'mnist1d', 'idx:PATH', 'npz:PATH' or 'csv:PATH'"


def _npz(path, **arrays):
    rng = np.random.default_rng(0)
    base = {"x_train": rng.random((20, 3)), "y_train": np.arange(20) % 3,
            "x_test": rng.random((6, 3)), "y_test": np.arange(6) % 3}
    base.update(arrays)
    np.savez(path, **{k: v for k, v in base.items() if v is not None})
    return f"npz:{path}"


def test_npz_splits_and_the_held_out_validation_rows(tmp_path):
    ds = _npz(tmp_path / "d.npz")
    X, y = load_split(ds, "train")
    Xv, yv = load_split(ds, "validation")
    Xt, yt = load_split(ds, "test")
    assert X.dtype == np.float32 and y.dtype == np.int64
    assert (len(y), len(yv), len(yt)) == (18, 2, 6)  # the last 20 // 10 training rows
    assert yv.tolist() == [0, 1] and y.tolist() == (np.arange(18) % 3).tolist()
    assert dataset_info(ds) == DatasetInfo(ds, 3, 3)
    with_val = _npz(tmp_path / "v.npz", x_val=np.full((4, 3), 0.5), y_val=np.array([2, 2, 1, 0]))
    assert len(load_split(with_val, "train")[1]) == 20
    assert load_split(with_val, "validation")[1].tolist() == [2, 2, 1, 0]
    images = _npz(tmp_path / "i.npz", x_train=np.zeros((20, 2, 2)), x_test=np.ones((6, 2, 2)),
                  y_test=np.array([0, 1, 2, 0, 1, 2], dtype=np.float64))
    assert load_split(images, "test")[0].shape == (6, 4)  # flattened; whole-number floats accepted


def _refusal(ds, split="train"):
    with pytest.raises(ConfigError) as exc:
        load_split(ds, split)
    return str(exc.value)


def test_npz_refusals_name_the_file_and_the_problem(tmp_path):
    p = tmp_path / "d.npz"
    w = f"npz file {str(p)!r}"
    assert _refusal(f"npz:{p}") == f"{w} does not exist"
    assert _refusal(f"npz:{tmp_path}") == f"npz file {str(tmp_path)!r} is not a file"
    p.write_text("x_train,y_train\n")
    assert _refusal(f"npz:{p}") == f"{w} is not an npz archive of numeric arrays (numpy.savez)"
    q = tmp_path / "plain.npy"
    np.save(q, np.zeros(3))
    assert _refusal(f"npz:{q}") == (f"npz file {str(q)!r} is not an npz archive of numeric "
                                    "arrays (numpy.savez)")
    cases = [
        ({"y_test": None}, f"{w} has no array 'y_test'; it needs x_train, y_train, x_test, "
                           "y_test (and optionally x_val, y_val)"),
        ({"x_val": np.zeros((2, 3))}, f"{w} has no array 'y_val'; it needs x_train, y_train, "
                                      "x_test, y_test (and optionally x_val, y_val)"),
        ({"y_train": np.zeros(19)}, f"{w}: x_train has 20 rows but y_train has 19 labels"),
        ({"x_test": np.zeros((6, 4))}, f"{w}: x_test has 4 features, x_train has 3"),
        ({"x_train": np.zeros(20)}, f"{w}: x_train must be a numeric array of shape (samples, "
                                    "features...), not float64 of shape (20,)"),
        ({"y_test": np.zeros((6, 1))}, f"{w}: y_test must be 1-D, not of shape (6, 1)"),
        ({"x_train": np.where(np.eye(20, 3) > 0, np.nan, 0.5)},
         f"{w}: x_train has a non-finite value nan at row 0, feature 0"),
        ({"x_test": np.full((6, 3), np.inf)},
         f"{w}: x_test has a non-finite value inf at row 0, feature 0"),
        ({"x_train": np.linspace(-1.5, 3, 60).reshape(20, 3)},
         f"{w}: x_train has values in [-1.5, 3]; features must lie in [0, 1] (scale them, or "
         "use csv:PATH, which scales by the training range)"),
        ({"y_train": np.arange(20) / 2}, f"{w}: y_train has a non-integer label 0.5 at row 1"),
        ({"y_test": np.array([0, 1, -2, 0, 1, 2])},
         f"{w}: y_test has a negative label -2 at row 2"),
        ({"y_test": np.array(list("abcdef"))},
         f"{w}: y_test must hold integer labels, not <U1 values"),
    ]
    for arrays, message in cases:
        _npz(p, **arrays)
        assert _refusal(f"npz:{p}", "test") == message, arrays


CSV_TRAIN = "a,label,b\n" + "".join(f"{i},{i % 2},{10 - i}\n" for i in range(10))


def _csv(root, train=CSV_TRAIN, test="a,label,b\n4.5,1,20\n-1,0,5\n", validation=None):
    root.mkdir(exist_ok=True)
    for name, text in (("train", train), ("test", test), ("validation", validation)):
        if text is not None:
            (root / f"{name}.csv").write_text(text, encoding="utf-8")
    return f"csv:{root}"


def test_csv_is_scaled_by_the_training_range(tmp_path):
    ds = _csv(tmp_path / "c")
    X, y = load_split(ds, "train")  # rows 0..8; row 9 is the validation row
    assert X.flags.writeable and y.flags.writeable  # torch takes them; the parse cache is apart
    assert y.tolist() == [0, 1, 0, 1, 0, 1, 0, 1, 0]
    assert X[:, 0].tolist() == pytest.approx(np.arange(9) / 8)   # a: 0..8
    assert X[:, 1].tolist() == pytest.approx((10 - np.arange(9) - 2) / 8)  # b: 2..10
    Xv, yv = load_split(ds, "validation")
    assert yv.tolist() == [1] and Xv.tolist() == [[1.0, 0.0]]  # 9 -> clipped to 1; 1 -> 0
    Xt, yt = load_split(ds, "test")
    assert yt.tolist() == [1, 0] and Xt.tolist() == [[0.5625, 1.0], [0.0, 0.375]]
    assert dataset_scaling(ds) == {"kind": "minmax", "min": [0.0, 2.0], "max": [8.0, 10.0]}
    assert dataset_info(ds) == DatasetInfo(ds, 2, 2)
    spaced = _csv(tmp_path / "s", train="a,label\n\n1_0,1\n\n2,0\n3,1\n", test="a,label\n")
    assert load_split(spaced, "train")[0].tolist() == [[1.0], [0.0]]  # 10, 2: Python's float()
    assert dataset_info(spaced) == DatasetInfo(spaced, 1, 2)  # an empty test split is allowed
    empty = _npz(tmp_path / "e.npz", x_train=np.zeros((0, 3)), y_train=np.zeros(0, dtype=int))
    with pytest.raises(ConfigError) as exc:
        dataset_info(empty)
    assert str(exc.value) == f"dataset {empty!r} has no training samples"
    own_val = _csv(tmp_path / "v", validation="a,label,b\n1,1,1\n")
    assert len(load_split(own_val, "train")[1]) == 10
    assert dataset_scaling(own_val)["max"] == [9.0, 10.0]
    check_scaling(ds, dataset_scaling(ds))
    check_scaling(ds, None)
    with pytest.raises(ConfigError) as exc:
        check_scaling(ds, {"kind": "minmax", "min": [0.0, 1.0], "max": [8.0, 10.0]})
    assert str(exc.value) == (
        f"dataset {ds!r}: the training split's range of feature 1 is now [2, 10], the model was "
        "trained with [1, 10]; its inputs would be scaled differently (train again, or restore "
        "the training file)")
    with pytest.raises(ConfigError) as exc:
        check_scaling(ds, {"kind": "minmax", "min": [0.0], "max": [8.0]})
    assert str(exc.value) == f"dataset {ds!r} has 2 features; the model was trained on 1"


def test_csv_refusals_name_the_file_and_the_problem(tmp_path):
    root = tmp_path / "c"
    w = f"CSV dataset directory {str(root)!r}"
    assert _refusal(f"csv:{root}") == f"{w} does not exist"
    (tmp_path / "f.csv").write_text("a,label\n")
    assert _refusal(f"csv:{tmp_path / 'f.csv'}") == (
        f"CSV dataset directory {str(tmp_path / 'f.csv')!r} is not a directory (it must hold "
        "train.csv and test.csv)")
    _csv(root, test=None)
    assert _refusal(f"csv:{root}") == f"{w} has no test.csv"
    tr = f"CSV file {str(root / 'train.csv')!r}"
    te = f"CSV file {str(root / 'test.csv')!r}"
    cases = [
        ({"train": ""}, f"{tr} has no header row"),
        ({"train": "a,b\n1,2\n"}, f"{tr} has no column 'label'; its header is ['a', 'b']"),
        ({"train": "label\n1\n"}, f"{tr} has no feature columns besides 'label'"),
        ({"train": "a,label\n1,0\n2\n"}, f"{tr} line 3 has 1 fields, the header has 2"),
        ({"train": "a,label\n1,0\nx,1\n"}, f"{tr} line 3, column 'a': 'x' is not a number"),
        ({"train": "a,label\n\n1,0\n\n1,x\n"}, f"{tr} line 5, column 'label': 'x' is not a "
                                              "number"),
        ({"test": "a,label\n1,0\n"},
         f"{w}: test.csv has feature columns ['a'], train.csv has ['a', 'b']"),
        ({"test": "b,label,a\n1,0,1\n"},
         f"{w}: test.csv has feature columns ['b', 'a'], train.csv has ['a', 'b']"),
        ({"test": "a,label,b\n1,0,nan\n"}, f"{te} has a non-finite value nan at row 0, feature 1"),
        ({"test": "a,label,b\n1,0,2\n1,inf,2\n"},
         f"{te} column 'label' has a non-integer label inf at row 1"),
        ({"test": "a,label,b\n1,0.5,2\n"},
         f"{te} column 'label' has a non-integer label 0.5 at row 0"),
        ({"test": "a,label,b\n1,0,2\n1,-1,2\n"},
         f"{te} column 'label' has a negative label -1 at row 1"),
    ]
    for files, message in cases:
        _csv(root, **files)
        assert _refusal(f"csv:{root}", "test") == message, files
        for f in root.iterdir():
            f.unlink()
    (root / "train.csv").write_bytes(b"a,label\n\xff\xfe,1\n")
    (root / "test.csv").write_text("a,label\n1,0\n")
    assert _refusal(f"csv:{root}").startswith(f"{tr} cannot be read as CSV: ")


def test_labels_outside_the_network_outputs_are_refused_when_encoding_for_it(tmp_path):
    from ttfs.sim.ir import Layer, QNet
    from ttfs.train import api

    enc = {"kind": "ttfs", "time_steps": 8, "t_in": 6, "cutoff": 0.0, "bias_steps": [0]}
    qnet = QNet(4, 8, (Layer(np.ones((4, 2), dtype=np.int64), 2),), meta={"encoder": enc})
    ds = _npz(tmp_path / "d.npz", y_test=np.array([0, 1, 1, 0, 3, 2]))
    X, y = api.load_split(ds, "test")  # no model: any label >= 0
    message = "sample 4 has label 3, outside the network's 2 outputs (labels 0..1)"
    for call in (lambda: api.load_split(ds, "test", model=qnet),
                 lambda: api.encode_for(qnet, X, y)):
        with pytest.raises(ConfigError) as exc:
            call()
        assert str(exc.value) == message
    assert len(api.encode_for(qnet, X[:4], y[:4])) == 4
