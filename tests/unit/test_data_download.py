"""aibnb.data.download and the fetch around it: the data root, Fashion-MNIST's fallbacks, atomic writes, clear
errors, the CLI."""

from __future__ import annotations

import argparse
import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from aibnb import data
from aibnb.data import cli, download
from aibnb.data.paths import DatasetNotFoundError, data_root
from aibnb.storage import write_atomic

# small stand-ins for the four files: same names and format, fewer items
SMALL = {
    "train-images-idx3-ubyte": (6, 28, 28),
    "train-labels-idx1-ubyte": (6,),
    "t10k-images-idx3-ubyte": (2, 28, 28),
    "t10k-labels-idx1-ubyte": (2,),
}


def idx_bytes(shape: tuple[int, ...], fill: int = 7) -> bytes:
    header = struct.pack(">BBBB", 0, 0, 8, len(shape)) + struct.pack(f">{len(shape)}I", *shape)
    return header + bytes([fill]) * int(np.prod(shape))


@pytest.fixture
def small_files(monkeypatch):
    monkeypatch.setattr(download, "FASHION_MNIST_FILES", SMALL)


def debian_dir(tmp_path: Path, shapes=SMALL) -> Path:
    folder = tmp_path / "debian"
    folder.mkdir()
    for name, shape in shapes.items():
        (folder / f"{name}.gz").write_bytes(gzip.compress(idx_bytes(shape)))
    return folder


def test_data_root_resolution(monkeypatch, tmp_path):
    monkeypatch.delenv("AIBNB_DATA", raising=False)
    repo = Path(__file__).resolve().parents[2]
    monkeypatch.chdir(repo / "book")  # a notebook's working directory: the root is found upwards
    assert data_root() == repo / "data"
    monkeypatch.chdir(tmp_path)  # outside a checkout: ./data
    assert data_root() == tmp_path.resolve() / "data"
    monkeypatch.setenv("AIBNB_DATA", str(tmp_path))
    assert data_root() == tmp_path
    assert data_root(tmp_path / "x") == tmp_path / "x"  # the argument wins


def test_fetch_unpacks_the_debian_files_then_finds_them(tmp_path, small_files):
    root, logs = tmp_path / "root", []
    folder = download.fetch_fashion_mnist(
        root, system_dir=debian_dir(tmp_path), use_apt=False, use_download=False, log=logs.append
    )
    assert folder == root / "FashionMNIST" / "raw"
    for name, shape in SMALL.items():
        assert (folder / name).read_bytes() == idx_bytes(shape)
    assert not list(folder.glob(".*tmp"))  # atomic writes leave no temporary files
    assert "unpacked 4 files" in logs[0]
    download.fetch_fashion_mnist(root, system_dir=None, use_apt=False, use_download=False, log=logs.append)
    assert "already present" in logs[-1]


def test_fetch_rejects_a_wrong_file_and_keeps_nothing_of_it(tmp_path, small_files):
    shapes = {**SMALL, "t10k-images-idx3-ubyte": (3, 28, 28)}  # wrong count
    root = tmp_path / "root"
    with pytest.raises(ValueError, match=r"expected uint8 \(2, 28, 28\)"):
        download.fetch_fashion_mnist(
            root, system_dir=debian_dir(tmp_path, shapes), use_apt=False, use_download=False, log=print
        )
    assert not (root / "FashionMNIST" / "raw" / "t10k-images-idx3-ubyte").exists()


def test_fetch_replaces_a_truncated_file(tmp_path, small_files):
    root = tmp_path / "root"
    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for name, shape in SMALL.items():
        (raw / name).write_bytes(idx_bytes(shape))
    (raw / "train-images-idx3-ubyte").write_bytes(idx_bytes(SMALL["train-images-idx3-ubyte"])[:-10])
    assert download.fashion_mnist_problems(raw) and "truncated" in download.fashion_mnist_problems(raw)[0]
    download.fetch_fashion_mnist(
        root, system_dir=debian_dir(tmp_path), use_apt=False, use_download=False, log=print
    )
    assert download.fashion_mnist_problems(raw) == []


def test_fetch_error_says_where_it_looked_and_how_to_get_it(tmp_path, small_files):
    with pytest.raises(DatasetNotFoundError) as err:
        download.fetch_fashion_mnist(
            tmp_path, system_dir=tmp_path / "nowhere", use_apt=False, use_download=False, log=print
        )
    message = str(err.value)
    assert str(tmp_path / "FashionMNIST" / "raw") in message and str(tmp_path / "nowhere") in message
    assert "apt-get install dataset-fashion-mnist" in message and "make data" in message


def test_write_atomic_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "sub" / "file.bin"

    def broken(tmp: Path) -> None:
        tmp.write_bytes(b"partial")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomic(target, broken)
    assert not target.exists() and list(target.parent.iterdir()) == []
    write_atomic(target, lambda tmp: tmp.write_bytes(b"whole"))
    assert target.read_bytes() == b"whole"


def test_fetch_other_names(tmp_path, capsys):
    assert data.fetch("digits", tmp_path).is_dir()
    assert "bundled with scikit-learn" in capsys.readouterr().out
    with pytest.raises(DatasetNotFoundError, match=r"https://www\.vision\.caltech\.edu"):
        data.fetch("cub200", tmp_path)
    with pytest.raises(ValueError, match="valid names"):
        data.fetch("imagenet", tmp_path)


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="python -m aibnb data")
    cli.add_arguments(parser)
    return cli.run(parser.parse_args(list(argv)))


def test_cli_list_info_and_missing(tmp_path, capsys):
    assert run_cli("list") == 0
    listing = capsys.readouterr().out
    assert "cluttered_fashion_shift" in listing and "cifar100" in listing
    assert run_cli("info", "cifar10", "--root", str(tmp_path)) == 0
    info = capsys.readouterr().out
    assert "normalisation (vgg): mean (0.5071" in info and "normalisation (wrn)" in info
    assert "not present" in info and "data fetch cifar10" in info
    assert run_cli("info", "digits") == 0
    assert "val           144 images of (1, 32, 32)" in capsys.readouterr().out
    assert run_cli("fetch", "cub200", "--root", str(tmp_path)) == 1
    assert "CUB_200_2011" in capsys.readouterr().err
    assert run_cli("stats", "digits") == 0
    stats = capsys.readouterr().out
    mean = data.normalization("digits")[0][0]
    assert f"mean = ({mean},)" in stats


def test_download_true_uses_the_downloader_then_reads_its_files(tmp_path, monkeypatch):
    from scipy.io import savemat

    calls = []

    def fake_torchvision(name: str, base: Path) -> None:  # writes what torchvision's SVHN writes
        calls.append(name)
        folder = base / "svhn"
        folder.mkdir(parents=True, exist_ok=True)
        images = np.full((32, 32, 3, 5), 9, np.uint8)
        for split in ("train", "test"):
            savemat(folder / f"{split}_32x32.mat", {"X": images, "y": np.arange(1, 6)[:, None]})

    monkeypatch.setattr(download, "_torchvision_download", fake_torchvision)
    with pytest.raises(DatasetNotFoundError):
        data.load_tensors("svhn", "test", tmp_path)  # no download unless asked
    test = data.load_tensors("svhn", "test", tmp_path, download=True)
    assert calls == ["svhn"] and len(test) == 5 and (test.images == 9).all()
    data.load_tensors("svhn", "test", tmp_path, download=True)
    assert calls == ["svhn"]  # present now: not downloaded again


def test_failed_download_is_a_clear_error(tmp_path, monkeypatch, small_files):
    def offline(name: str, base: Path) -> None:
        raise OSError("Name or service not known")

    monkeypatch.setattr(download, "_torchvision_download", offline)
    with pytest.raises(DatasetNotFoundError, match=r"by hand; home page: https://cs\.stanford\.edu"):
        data.load_tensors("stl10", "test", tmp_path, download=True)
    # Fashion-MNIST: the downloader is the fourth fallback; its failure is listed with the others
    with pytest.raises(DatasetNotFoundError, match="torchvision download: OSError"):
        download.fetch_fashion_mnist(tmp_path, system_dir=None, use_apt=False, log=print)


def test_cli_fetch_from_a_copied_folder(tmp_path, small_files):
    from aibnb.__main__ import main

    source = debian_dir(tmp_path)
    assert main(["data", "fetch", "fashion_mnist", "--from", str(source), "--root", str(tmp_path / "r")]) == 0
    for name, shape in SMALL.items():
        assert (tmp_path / "r" / "FashionMNIST" / "raw" / name).read_bytes() == idx_bytes(shape)
    assert main(["data", "fetch", "cifar10", "--from", str(source)]) == 1  # --from is for fashion_mnist
