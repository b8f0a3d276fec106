"""Nothing lost: Ctrl-C, SIGTERM, kill -9 and an unwritable --out, each as a real process.

``python -m minigpt train`` saves on Ctrl-C (exit 130) and SIGTERM (143) and says how to resume;
a second Ctrl-C quits at once; a run whose --out cannot be written never starts; a process killed
while saving leaves the previous checkpoint loadable, and the next save removes its leftovers.
"""

import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from minigpt.checkpoint import load_checkpoint, save_checkpoint
from minigpt.config import GPTConfig
from minigpt.model import GPT

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


class Training:
    """``python -m minigpt train ...`` in the background, with its stderr collected as it arrives
    (``python -c <program> train ...`` with ``program``)."""

    def __init__(self, *options, cwd, program=None):
        launch = ["-m", "minigpt"] if program is None else ["-c", program]
        self.process = subprocess.Popen(
            [sys.executable, *launch, "train", "--device", "cpu", *options],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        self.stderr = ""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for chunk in iter(lambda: self.process.stderr.read(1), ""):
            self.stderr += chunk

    def wait_for_steps(self, steps: int, timeout: float = 120) -> None:
        """Wait until the progress bar shows at least ``steps`` finished optimiser steps (0: the
        bar is there, so training has begun)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = [int(n) for n in re.findall(r"train:.*?\| *(\d+)/\d+", self.stderr)]
            if done and max(done) >= steps:
                return
            assert self.process.poll() is None, f"training ended early:\n{self.stderr}"
            time.sleep(0.05)
        pytest.fail(f"no progress after {timeout} s:\n{self.stderr}")

    def finish(self, timeout: float = 120) -> int:
        code = self.process.wait(timeout)
        self._reader.join(5)
        return code


def _train(tmp_path, *options):
    out = tmp_path / "run.safetensors"
    return out, Training("--recipe", "shakespeare-char-cpu", "--max-iters", "100000", "--out", str(out),
                         *options, cwd=tmp_path)


def _check_saved_after(run, out, signum, code, tmp_path):
    assert run.finish() == code
    assert "Traceback" not in run.stderr
    last = run.stderr.strip().splitlines()[-1]
    assert re.match(rf"minigpt train: stopped by {signal.Signals(signum).name} at step \d+; saved checkpoint to "
                    rf"{re.escape(str(out))}; resume with: python -m minigpt train .*--resume {re.escape(str(out))}",
                    last), last
    checkpoint = load_checkpoint(out)
    assert checkpoint.step >= 2 and checkpoint.optimizer_state is not None
    assert checkpoint.tokenizer is not None and checkpoint.tokenizer.vocab_size == 65
    assert [p.name for p in tmp_path.iterdir()] == ["run.safetensors"]  # no temporary files left
    return checkpoint, last


def test_sigterm_saves_the_work_and_exits_143(tmp_path):
    out, run = _train(tmp_path)
    run.wait_for_steps(2)
    run.process.send_signal(signal.SIGTERM)
    _check_saved_after(run, out, signal.SIGTERM, 143, tmp_path)


def test_ctrl_c_saves_the_work_and_the_printed_command_resumes_it(tmp_path):
    # shakespeare-char-cpu evaluates and saves only at its end: before this, Ctrl-C lost everything
    out, run = _train(tmp_path, "--seed", "7")
    run.wait_for_steps(2)
    run.process.send_signal(signal.SIGINT)
    checkpoint, last = _check_saved_after(run, out, signal.SIGINT, 130, tmp_path)
    command = last.split("resume with: ", 1)[1].split()
    assert command[:3] == ["python", "-m", "minigpt"] and command[command.index("--seed") + 1] == "7"
    step = checkpoint.step
    command[command.index("--max-iters") + 1] = str(step + 2)  # only two more steps, for the test's sake
    resumed = subprocess.run([sys.executable, *command[1:], "--no-progress"], capture_output=True, text=True,
                             cwd=tmp_path, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert resumed.returncode == 0, resumed.stderr
    checkpoint = load_checkpoint(out)
    assert checkpoint.step == step + 2 and checkpoint.tokenizer is not None  # the tokenizer is kept


def test_a_second_ctrl_c_quits_at_once_without_a_traceback(tmp_path):
    # 4096 sequences make the first step take seconds even on a fast machine: both Ctrl-Cs land in it
    out, run = _train(tmp_path, "--batch-size", "4096")
    run.wait_for_steps(0)
    run.process.send_signal(signal.SIGINT)
    time.sleep(0.3)
    start = time.monotonic()
    run.process.send_signal(signal.SIGINT)
    assert run.finish() == 130
    assert time.monotonic() - start < 10
    assert "Traceback" not in run.stderr and "interrupted again; quitting without saving" in run.stderr
    assert not out.exists()  # nothing saved, as asked


def _fast_steps(tmp_path, program=None):
    """Training whose steps take milliseconds: a Ctrl-C's checkpoint is saved before a second one is pressed."""
    return Training("--recipe", "tiny", "--batch-size", "1", "--eval-iters", "1", "--max-iters", "100000",
                    "--out", str(tmp_path / "run.safetensors"), cwd=tmp_path, program=program)


def test_a_second_ctrl_c_20_ms_after_the_first_is_no_traceback(tmp_path):
    run = _fast_steps(tmp_path)
    run.wait_for_steps(2)
    run.process.send_signal(signal.SIGINT)
    time.sleep(0.02)
    run.process.send_signal(signal.SIGINT)
    # 130, or killed by SIGINT when the second one lands after Python's last clean-up has put the default handler
    # back (on a busy machine): a shell shows 130 for both, and neither prints anything
    assert run.finish() in (130, -signal.SIGINT)
    assert "Traceback" not in run.stderr and "KeyboardInterrupt" not in run.stderr, run.stderr


SLOW_EXIT = """
import atexit, sys, time
from minigpt.cli import main

def slow_clean_up():  # stands in for torch's clean-up at exit, long enough to press Ctrl-C in it every time
    print("cleaning up", file=sys.stderr, flush=True)
    time.sleep(60)

atexit.register(slow_clean_up)
sys.exit(main(sys.argv[1:]))
"""


def test_a_ctrl_c_during_the_clean_up_at_exit_is_no_traceback(tmp_path):
    """Where the second Ctrl-C of a quick double press lands when the first one's save is quick: in the
    clean-up after ``main`` returned, once the handlers were put back (a KeyboardInterrupt traceback from
    torch's atexit code). The handlers now stay, so it ends the process at once and quietly."""
    run = _fast_steps(tmp_path, program=SLOW_EXIT)
    run.wait_for_steps(2)
    run.process.send_signal(signal.SIGINT)
    deadline = time.monotonic() + 120
    while "cleaning up" not in run.stderr and time.monotonic() < deadline:
        assert run.process.poll() is None, run.stderr
        time.sleep(0.01)
    assert "saved checkpoint to" in run.stderr
    run.process.send_signal(signal.SIGINT)
    assert run.finish(timeout=30) == 130
    assert "Traceback" not in run.stderr and "KeyboardInterrupt" not in run.stderr, run.stderr


def _assert_quiet_exit_after_ctrl_c(run, out) -> None:
    run.process.send_signal(signal.SIGINT)
    assert run.finish() == 130
    assert "Traceback" not in run.stderr
    if out.exists():  # a fast machine may already have trained a step: then it was saved
        assert load_checkpoint(out).step >= 1


def test_ctrl_c_while_starting_up_is_no_traceback(tmp_path):
    out, run = _train(tmp_path)
    time.sleep(1.0)  # usually building the parser or loading the data
    _assert_quiet_exit_after_ctrl_c(run, out)


@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="finds torch's import in /proc/<pid>/maps")
@pytest.mark.parametrize("seconds", [0.1, 0.2, 0.3, 0.5])
def test_ctrl_c_while_importing_torch_is_no_traceback(tmp_path, seconds):
    """A Ctrl-C inside torch's import was swallowed (training went on), aborted the process from C++ (exit -6),
    or escaped as a RecursionError, depending on where it landed, until python -m minigpt held SIGINT back
    during that import. ``seconds`` after torch's C++ library is loaded, the import is still running."""
    out, run = _train(tmp_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with open(f"/proc/{run.process.pid}/maps") as f:
            if "libtorch" in f.read():
                break
        time.sleep(0.002)
    time.sleep(seconds)
    _assert_quiet_exit_after_ctrl_c(run, out)


def test_an_unwritable_out_stops_the_run_before_it_starts(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    result = subprocess.run(
        [sys.executable, "-m", "minigpt", "train", "--recipe", "tiny", "--out", str(tmp_path / "file" / "r.safetensors")],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("minigpt train: error: --out: cannot write checkpoint")
    assert result.stderr.count("\n") == 1 and ".tmp" not in result.stderr and "it/s" not in result.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to a read-only folder")
def test_a_read_only_out_folder_stops_the_run_before_it_starts(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir(mode=0o555)
    result = subprocess.run(
        [sys.executable, "-m", "minigpt", "train", "--recipe", "tiny", "--out", str(folder / "r.safetensors")],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )
    assert result.returncode == 2 and "--out: cannot write checkpoint" in result.stderr
    assert "Permission denied" in result.stderr


def test_kill_9_during_a_save_keeps_the_previous_checkpoint_and_the_next_save_cleans_up(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    config = GPTConfig(vocab_size=64, block_size=64, n_layer=4, n_head=2, n_embd=512)
    script = textwrap.dedent(f"""
        from minigpt.checkpoint import save_checkpoint
        from minigpt.config import GPTConfig
        from minigpt.model import GPT
        model = GPT(GPTConfig(**{config.to_dict()!r}))
        step = 0
        while True:
            step += 1
            print("saving", step, flush=True)
            save_checkpoint({str(path)!r}, model, step=step)
    """)
    leftovers = []
    for _ in range(3):  # kill it in the middle of a save; usually the first try leaves a temporary folder
        process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        try:
            for _ in range(3):  # two saves complete, then it is killed just after starting the third
                assert process.stdout.readline().startswith("saving"), "the saving process died"
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait()
        assert load_checkpoint(path).step >= 2  # the previous checkpoint is whole
        leftovers = [p for p in tmp_path.iterdir() if p.name != path.name]
        if leftovers:
            break
    assert all(p.name.startswith(".ckpt.safetensors.") and p.name.endswith(".tmp") for p in leftovers), leftovers
    save_checkpoint(path, GPT(config), step=99)  # a later successful save
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    assert load_checkpoint(path).step == 99
