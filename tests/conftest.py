import pytest
import torch


@pytest.fixture(scope="module")
def one_thread():
    """One thread: on 2 shared cores, two OpenMP threads per process stall each other."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
