import pytest
import torch


@pytest.fixture(scope="module")
def one_thread():
    """One thread: on 2 shared cores, two OpenMP threads per process stall each other."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def pytest_collection_modifyitems(config, items):
    """Tests marked `gpu` need CUDA: skipped (by marker) where there is none, so the CPU suite stays green."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="gpu: no CUDA device here (benchmarks/gpu_check.sh runs these on a GPU)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
