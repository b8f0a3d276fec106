"""Data-parallel training: 2 CPU processes (gloo) match a single process with the same global batch."""

import json
import os
import socket
import time

import torch
import torch.multiprocessing as mp
from safetensors.torch import load_file, save_file

from minigpt import distributed
from minigpt.config import GPTConfig
from minigpt.model import GPT
from minigpt.train import Trainer, TrainConfig

CONFIG = GPTConfig(vocab_size=12, block_size=16, n_layer=1, n_head=2, n_embd=16)
STEPS = 4


class GlobalBatches:
    """Micro-batch j of a fixed list goes to rank j % world (one step = ``world`` micro-batches in all).

    So 2 ranks x 1 micro-batch consume exactly what 1 process x 2 micro-batches (grad_accum=2) does.
    """

    def __init__(self, rank: int, world: int):
        generator = torch.Generator().manual_seed(0)
        self.batches = [torch.randint(0, 12, (4, 17), generator=generator) for _ in range(2 * STEPS + 1)]
        self.rank, self.world, self.calls = rank, world, 0

    def __call__(self, split, generator):
        if split == "val":
            batch = self.batches[-1]
        else:
            batch = self.batches[(self.calls * self.world + self.rank) % (2 * STEPS)]  # eval wraps around
            self.calls += 1
        return batch[:, :-1], batch[:, 1:]


class CountSteps:
    calls = 0

    def on_step(self, trainer, info):
        self.calls += 1


def _run(rank: int, world: int, grad_accum: int):
    torch.manual_seed(0)
    counter = CountSteps()
    config = TrainConfig(max_iters=STEPS, grad_accum=grad_accum, lr=1e-2, warmup_iters=1, eval_interval=0,
                         eval_iters=1, device="cpu", progress=False)
    trainer = Trainer(GPT(CONFIG), config, GlobalBatches(rank, world), callbacks=[counter])
    history = trainer.fit()
    return trainer, history, counter.calls


def _worker(rank: int, world: int, port: int, out_dir: str):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      LOCAL_RANK=str(rank), WORLD_SIZE=str(world))
    torch.set_num_threads(1)
    trainer, history, callback_calls = _run(rank, world, grad_accum=1)
    assert trainer.dist.world_size == 2 and isinstance(trainer.train_model, torch.nn.parallel.DistributedDataParallel)
    weights = {name: p.detach().contiguous() for name, p in trainer.model.named_parameters()}
    save_file(weights, os.path.join(out_dir, f"rank{rank}.safetensors"))
    with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as f:
        json.dump({"losses": history.column("train_loss"), "val": history.last("val_loss"),
                   "callback_calls": callback_calls}, f)
    distributed.teardown()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_gloo_ranks_match_one_process_with_the_same_global_batch(tmp_path):
    context = mp.start_processes(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=False,
                                 start_method="spawn")
    deadline = time.monotonic() + 240
    while not context.join(timeout=5):
        assert time.monotonic() < deadline, "the 2 training processes did not finish in time"

    ranks = [load_file(str(tmp_path / f"rank{r}.safetensors")) for r in range(2)]
    logs = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    for name in ranks[0]:  # DDP keeps the copies in lock step
        assert torch.equal(ranks[0][name], ranks[1][name]), name
    assert logs[0]["callback_calls"] == STEPS and logs[1]["callback_calls"] == 0  # only rank 0 reports

    single, history, _ = _run(rank=0, world=1, grad_accum=2)
    assert single.dist.world_size == 1
    assert torch.allclose(torch.tensor(logs[0]["losses"]), torch.tensor(history.column("train_loss")), atol=1e-5)
    assert logs[0]["losses"] == logs[1]["losses"]  # the logged loss is the mean over ranks
    for name, p in single.model.named_parameters():
        assert torch.allclose(ranks[0][name], p.detach(), atol=1e-5), name
