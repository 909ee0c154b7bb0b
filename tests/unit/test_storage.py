"""aibnb.storage: an unreadable or ill-shaped file is a DamagedFileError that names it, and the
temporary files of a killed writer are recognised (and only they)."""

from __future__ import annotations

import numpy as np
import pytest

from aibnb.storage import (
    TEMP_PATTERN,
    DamagedFileError,
    read_json_object,
    read_npz,
    remove_stale_temps,
    write_atomic,
    write_json,
    write_npz,
)


@pytest.fixture
def predictions(tmp_path):
    path = tmp_path / "predictions.npz"
    rng = np.random.default_rng(0)
    write_npz(path, {"targets": rng.integers(0, 10, 5000).astype(np.int16),
                     "predictions": rng.integers(0, 10, 5000).astype(np.int16)})
    return path


@pytest.mark.parametrize("cut", [0.3, 0.6, 0.95])
def test_a_truncated_npz_is_a_damaged_file_named_in_the_message(predictions, cut):
    data = predictions.read_bytes()
    predictions.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(DamagedFileError, match=rf"{predictions}.* is damaged .*left in place"):
        read_npz(predictions)
    assert predictions.exists()  # never deleted


def test_a_damaged_member_garbage_and_a_wrong_table_are_damaged_files(tmp_path, predictions):
    data = bytearray(predictions.read_bytes())
    data[len(data) // 3 : len(data) // 3 + 64] = bytes(64)  # inside the first compressed member
    predictions.write_bytes(bytes(data))
    with pytest.raises(DamagedFileError, match=r"predictions\.npz is damaged"):
        read_npz(predictions)
    garbage = tmp_path / "attention.npz"
    garbage.write_text("not an archive")
    with pytest.raises(DamagedFileError, match=r"attention\.npz is damaged"):
        read_npz(garbage)
    table = tmp_path / "table.npz"
    write_npz(table, {"targets": np.zeros(5), "predictions": np.zeros(4)})
    with pytest.raises(DamagedFileError, match=r"table\.npz is damaged .*differ in length"):
        read_npz(table, required=("predictions", "targets"))
    with pytest.raises(DamagedFileError, match=r"table\.npz is damaged .*lacks p_true"):
        read_npz(table, required=("p_true",))
    assert set(read_npz(table)) == {"targets", "predictions"}
    with pytest.raises(FileNotFoundError):
        read_npz(tmp_path / "absent.npz")


@pytest.mark.parametrize("content", [[1, 2], "text", None, {"config": {}}])
def test_valid_json_of_the_wrong_shape_is_a_damaged_file(tmp_path, content):
    path = tmp_path / "config.json"
    write_json(path, content)
    with pytest.raises(DamagedFileError, match=rf"{path} is damaged"):
        read_json_object(path, required=("hash", "config"))
    write_json(path, {"hash": "x", "config": {}})
    assert read_json_object(path, required=("hash", "config"))["hash"] == "x"


def test_stale_temporary_files_match_the_writer_s_names_only(tmp_path):
    def killed(tmp):  # the writer dies after writing its temporary file, before the rename
        tmp.write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomic(tmp_path / "best.pt", killed)  # cleaned up by write_atomic itself
    assert list(tmp_path.iterdir()) == []
    left = tmp_path / ".best.pt.ab_c12z9.tmp"  # what a SIGKILL leaves
    assert TEMP_PATTERN.match(left.name)
    others = [tmp_path / n for n in (".best.pt.tmp", "x.ab_c12z9.tmp", ".best.pt.AB_C12Z9.tmp", "best.pt")]
    for path in [left, *others]:
        path.write_text("x")
    (tmp_path / ".dir.ab_c12z9.tmp").mkdir()
    assert remove_stale_temps(tmp_path) == [left]
    assert all(p.exists() for p in others) and (tmp_path / ".dir.ab_c12z9.tmp").is_dir()
    assert remove_stale_temps(tmp_path / "absent") == []
