"""A damaged or truncated file of a result folder gives one clear error naming the file, never
MemoryError or a bare ValueError (npy_files.py): the header's claimed size is checked first."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from dant_core.cli import main
from dant_core.errors import DatasetError
from dant_core.results import load_result


def claim_huge_shape(path: Path, shape=(10**12, 3)) -> None:
    """Rewrite the .npy header of `path` to announce `shape`; the data stays as it was."""
    array = np.load(path)
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": array.dtype.str, "fortran_order": False, "shape": shape}
        )
        f.write(array.tobytes())


def truncate(path: Path) -> None:
    """The file cut short by 8 bytes (its header whole): a copy interrupted at its end."""
    path.write_bytes(path.read_bytes()[:-8])


def cut_in_half(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.fixture(scope="module")
def tracked(tmp_path_factory) -> Path:
    from dant_core.synthetic import make_demo

    root = tmp_path_factory.mktemp("damaged")
    make_demo(root / "data", n_units=40, n_sessions=3, seed=2, n_channels=64)
    assert main(["track", str(root / "data")]) == 0
    return root / "data" / "DANT_Output"


@pytest.fixture
def out(tracked, tmp_path) -> Path:
    data = Path(shutil.copytree(tracked.parent, tmp_path / "data"))
    return data / "DANT_Output"


@pytest.mark.parametrize(
    "name, damage, said",
    [
        ("IdxCluster.npy", claim_huge_shape, "its header announces shape (1000000000000, 3)"),
        ("locations.npy", claim_huge_shape, "(24.0 TB) but the file holds only"),
        ("motion_linear.npy", truncate, "the file holds only"),
        ("SimilarityWeights.npy", truncate, "the file holds only"),
        ("SimilarityThreshold.npy", cut_in_half, "not a readable .npy file (EOF"),
        ("dant_result.npz", cut_in_half, "not a readable .npz archive"),
    ],
)
def test_a_damaged_output_file_is_named(out, name, damage, said):
    damage(out / name)
    with pytest.raises(DatasetError) as caught:
        load_result(out)
    message = str(caught.value)
    assert message.startswith(f"{out / name}: ") and said in message
    assert "truncated or damaged" in message


def test_a_damaged_npz_member_is_named(out):
    """A member of dant_result.npz whose header claims more than the member holds."""
    import zipfile

    path = out / "dant_result.npz"
    with zipfile.ZipFile(path) as z:
        members = {i.filename: z.read(i) for i in z.infolist()}
    name = "scores.npy"
    header_end = members[name].index(b"\n") + 1
    from io import BytesIO

    fake = BytesIO()
    np.lib.format.write_array_header_1_0(
        fake, {"descr": "<f4", "fortran_order": False, "shape": (10**11, 9)}
    )
    members[name] = fake.getvalue() + members[name][header_end:]
    with zipfile.ZipFile(path, "w") as z:
        for n, data in members.items():
            z.writestr(n, data)
    with pytest.raises(DatasetError, match=r"dant_result\.npz \(scores\.npy\): its header"):
        load_result(out)


def test_dant_export_of_a_damaged_output_is_exit_2(out, capsys):
    claim_huge_shape(out / "IdxCluster.npy")
    assert main(["export", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"error: {out / 'IdxCluster.npy'}: its header announces")
