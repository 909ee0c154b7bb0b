"""aibnb.train.machine: the device-dependent defaults of a configuration and the CPU thread count."""

import torch

from aibnb.train import fit, prepare, run_dir


def test_cpu_runs_record_their_thread_count_and_fit_restores_it(tiny):
    before = torch.get_num_threads()
    cfg, device = prepare(model="vgg_aib", device="cpu", profile="full")  # no fixed count: torch's
    assert device.type == "cpu" and cfg.num_threads == before
    assert prepare(model="vgg_aib", device="cpu", profile="ci")[0].num_threads == 1  # fixed by the profile
    assert run_dir(model="vgg_aib", num_threads=1) != run_dir(model="vgg_aib", num_threads=2)
    fit(**{**tiny, "num_threads": 1})
    assert torch.get_num_threads() == before
