"""minigpt.files: every writer's one atomic write, the cleaning of a killed write's leftovers, and the
not-found error that the tokenizers and the data share without importing each other."""

import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from minigpt.files import DataNotFoundError, atomic_path, atomic_write, require_writable, remove_stale_temp_files

ROOT = Path(__file__).resolve().parents[1]


def test_a_write_replaces_the_file_whole(tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("old")
    with atomic_write(target) as f:
        f.write("new ")
        assert target.read_text() == "old"  # nothing is seen before the block ends
        f.write("text")
    assert target.read_text() == "new text"
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_an_error_inside_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "data.bin"
    target.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_write(target, "wb") as f:
            f.write(b"half of the new")
            raise KeyboardInterrupt  # Ctrl-C in the middle of a write
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["data.bin"]


def test_a_path_for_a_library_that_opens_the_file_itself(tmp_path):
    target = tmp_path / "weights.bin"
    with atomic_path(target, permissions=0o640) as temporary:
        assert temporary.parent.parent == tmp_path and temporary.name == target.name
        temporary.write_bytes(b"1234")
    assert target.read_bytes() == b"1234" and target.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["weights.bin"]


def test_an_error_names_the_target_and_how_to_fix_it_not_a_temporary_file(tmp_path):
    target = tmp_path / "missing" / "model.json"
    with pytest.raises(FileNotFoundError) as error:
        with atomic_write(target, what="tokenizer"):
            pass
    assert str(error.value) == (f"cannot write tokenizer {target}: the folder {target.parent} does not exist; "
                                "create it first")
    (tmp_path / "file").write_text("")
    with pytest.raises(NotADirectoryError, match=re.escape(f"cannot write {tmp_path / 'file' / 'x'}: Not a directory; "
                                                           "choose a folder you can write to")):
        require_writable(tmp_path / "file" / "x")


LIVE_WRITER = textwrap.dedent("""
    import sys, time
    from minigpt.files import atomic_write
    with atomic_write(sys.argv[1]) as f:
        f.write("the writer's")
        print("writing", flush=True)
        time.sleep(60)
""")


def test_a_killed_writers_leftover_goes_with_the_next_write_and_a_live_writers_stays(tmp_path):
    pytest.importorskip("fcntl")  # without flock (Windows) a leftover cannot be told from a live write
    target = tmp_path / "out.json"
    writer = subprocess.Popen([sys.executable, "-c", LIVE_WRITER, str(target)], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline() == "writing\n", "the writer died"
        [live] = [p for p in tmp_path.iterdir() if p.name.startswith(".out.json.")]
        with atomic_write(target) as f:  # while the other process is still writing
            f.write("mine")
        assert live.is_dir() and target.read_text() == "mine"  # a live write is not a leftover
        writer.send_signal(signal.SIGKILL)  # kill -9 mid-write: it leaves its temporary behind
        writer.wait(timeout=30)
        assert live.is_dir() and target.read_text() == "mine"
        with atomic_write(target) as f:
            f.write("again")
        assert [p.name for p in tmp_path.iterdir()] == ["out.json"] and target.read_text() == "again"
    finally:
        writer.kill()
        writer.wait(timeout=30)


def test_only_the_targets_own_leftovers_are_removed(tmp_path):
    pytest.importorskip("fcntl")
    target = tmp_path / "a"
    leftovers = [tmp_path / ".a.x1y2z3.tmp", tmp_path / ".a.q7w8e9.tmp"]
    others = [tmp_path / ".a.b.x1y2z3.tmp", tmp_path / ".ab.x1y2z3.tmp", tmp_path / ".a.x1y2z3.part"]
    leftovers[0].mkdir()
    leftovers[1].write_text("a temporary file of an earlier minigpt")
    for other in others:
        other.write_text("")
    assert sorted(remove_stale_temp_files(target)) == sorted(leftovers)
    assert all(other.exists() for other in others) and not any(p.exists() for p in leftovers)


def test_no_writer_renames_files_itself():
    """Every atomic write goes through minigpt.files: no other module calls os.replace."""
    found = []
    for folder in ("minigpt", "widgets", "benchmarks"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path == ROOT / "minigpt" / "files.py":
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if "os.replace(" in line:
                    found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert found == [], "use minigpt.files.atomic_write / atomic_path instead:\n" + "\n".join(found)


def _imports(module: str) -> set[str]:
    code = f"import sys, {module}; print(' '.join(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


def test_the_files_module_imports_no_torch_and_the_tokenizers_no_data():
    assert "torch" not in _imports("minigpt.files")  # widgets.tools use it: no torch at import time
    assert "minigpt.data" not in _imports("minigpt.tokenizers")


def test_data_not_found_is_one_error_wherever_it_is_imported():
    import minigpt.data
    import minigpt.gpt2
    import minigpt.tokenizers.tiktoken_tokenizer

    assert minigpt.data.DataNotFoundError is DataNotFoundError  # `from minigpt.data import DataNotFoundError` works
    assert minigpt.tokenizers.tiktoken_tokenizer.DataNotFoundError is DataNotFoundError
    assert issubclass(minigpt.gpt2.WeightsNotFoundError, DataNotFoundError)
