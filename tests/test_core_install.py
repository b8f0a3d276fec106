"""The core install (`pip install .`, no extras) trains, samples and describes a checkpoint from the command
line: it needs neither JupyterLab, the views nor a browser. A fresh virtual environment, built for real, except
for torch: the very build this suite runs on is lent to it (a .pth file naming links to torch and the packages torch
needs, and nothing else), since unpacking its 700 MB again would test pip, not this package."""

import importlib.metadata
import subprocess
import sys
import venv
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parent.parent


def run(args, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(args, capture_output=True, text=True, timeout=900, **kwargs)
    assert done.returncode == 0, f"{' '.join(map(str, args))} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def lend_torch(python: Path, folder: Path) -> None:
    """Make this environment's torch, and the packages it requires, importable and installed in the venv of
    ``python``: a link to each of their top-level files in ``folder``, which a .pth file in the venv names."""
    folder.mkdir()
    lent, wanted = set(), ["torch"]
    while wanted:
        distribution = importlib.metadata.distribution(wanted.pop())
        name = canonicalize_name(distribution.metadata["Name"])
        if name in lent or name in ("pip", "setuptools"):  # the venv has its own
            continue
        lent.add(name)
        for file in distribution.files:
            top = Path(str(file)).parts[0]
            if top != ".." and not (folder / top).exists():  # ".." : scripts, outside site-packages
                (folder / top).symlink_to(Path(distribution.locate_file(top)))
        requirements = [Requirement(line) for line in distribution.requires or []]
        wanted += [r.name for r in requirements if r.marker is None or r.marker.evaluate({"extra": ""})]
    site = run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
    (Path(site) / "lent_torch.pth").write_text(f"{folder}\n")


def test_the_core_install_trains_samples_and_describes_without_the_course_extras(tmp_path):
    venv.create(tmp_path / "venv", with_pip=True)
    python = tmp_path / "venv" / "bin" / "python"
    lend_torch(python, tmp_path / "lent")  # so pip does not install another copy, nor choose a multi-GB build
    run([python, "-m", "pip", "install", "-q", str(REPO)])  # a plain (non-editable) install, as a user gets
    present = run([python, "-c", "import importlib.util as u; print([m for m in ('plotly', 'ipywidgets', "
                   "'jupyterlab', 'nbgrader', 'kaleido') if u.find_spec(m)])"], cwd=tmp_path)
    assert present.stdout.strip() == "[]"  # none of the course's extras came along
    views = subprocess.run([python, "-c", "import widgets"], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert "pip install 'minigpt-course[views]'" in views.stderr.splitlines()[-1]  # says how to get them

    checkpoint = tmp_path / "tiny.safetensors"
    run([python, "-m", "minigpt", "train", "--recipe", "tiny", "--device", "cpu", "--max-iters", "4",
         "--batch-size", "4", "--eval-iters", "2", "--no-progress", "--out", str(checkpoint)], cwd=tmp_path)
    sample = run([python, "-m", "minigpt", "sample", "--checkpoint", str(checkpoint), "--prompt", "ROMEO:",
                  "--max-new-tokens", "20", "--seed", "0"], cwd=tmp_path)
    assert sample.stdout.startswith("ROMEO:") and len(sample.stdout) > len("ROMEO:")
    info = run([python, "-m", "minigpt", "info", "--checkpoint", str(checkpoint)], cwd=tmp_path)
    assert "char, 65 tokens" in info.stdout and "step         4" in info.stdout
