# SPDX-License-Identifier: Apache-2.0
"""What the Python sides of the attention and layer-kernel benchmarks share
(bench_attention_py.py, bench_layer_py.py): the stream gate."""


class Gate:
    """Holds torch's current stream with torch.cuda._sleep, calibrated once."""

    def __init__(self, torch):
        self.torch = torch
        torch.cuda._sleep(1000)
        torch.cuda.synchronize()
        e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        cycles = 20_000_000
        e0.record()
        torch.cuda._sleep(cycles)
        e1.record()
        torch.cuda.synchronize()
        self.cycles_per_us = cycles / (e0.elapsed_time(e1) * 1e3)
        self.expired = 0

    def hold(self, us):
        self.torch.cuda._sleep(int(us * self.cycles_per_us))

    def check(self):
        if self.torch.cuda.current_stream().query():
            self.expired += 1
