"""refbp.nn.cores: a product whose rows are shared between the cores equals the one product to
rounding, and with BLAS at one thread (the user's setting, the finite differences') it is the
plain product, bit for bit, and starts no thread."""

from __future__ import annotations

import multiprocessing
import threading

import numpy as np
import pytest
import threadpoolctl

from cases.generate import random_problem
from cases.model import MLPNetwork, RNNNetwork
from refbp.nn import build_model, cores, losses
from refbp.nn.backend import serial_blas

# (rows of a, inner size, columns of b): examples x inputs x neurons, as in a batch step, and
# uneven row counts (blocks of different sizes).
SHAPES = [(256, 784, 256), (256, 256, 256), (97, 300, 211), (1600, 64, 128), (128, 1600, 128)]


def pretend_cores(monkeypatch, count: int) -> list:
    """Pretend to have `count` cores and BLAS threads; the shapes of the shares handed to the pool."""
    monkeypatch.setattr(cores, "core_count", lambda: count)
    monkeypatch.setattr(cores, "blas_threads", lambda: count)
    submitted = []
    pool = cores._thread_pool()
    real_submit = pool.submit

    def counting_submit(fn, *args, **kwargs):
        submitted.append(args[0].shape)
        return real_submit(fn, *args, **kwargs)

    monkeypatch.setattr(pool, "submit", counting_submit)
    return submitted


@pytest.fixture
def four_shares(monkeypatch):
    return pretend_cores(monkeypatch, 4)


def rounding_bound(a, b, dtype=np.float64):
    """|x - y| for two sums of the same k products in different orders: each is within
    k * eps * (|a| @ |b|) of the exact sum (Higham, Accuracy and Stability, 3.1)."""
    k = a.shape[-1]
    return 2 * k * np.finfo(dtype).eps * (np.abs(a).astype(np.float64) @ np.abs(b).astype(np.float64))


@pytest.mark.parametrize("layout", ["C", "transposed a", "transposed b"])
@pytest.mark.parametrize("shape", SHAPES)
def test_shared_product_equals_the_single_product_to_rounding(four_shares, shape, layout):
    m, k, n = shape
    rng = np.random.default_rng(m * k + n)
    a = rng.standard_normal((m, k)) if layout != "transposed a" else rng.standard_normal((k, m)).T
    b = rng.standard_normal((k, n)) if layout != "transposed b" else rng.standard_normal((n, k)).T
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        single = a @ b
    shared = cores.matmul(np, a, b)
    assert len(four_shares) == 3, "the product was not shared between 4 threads"
    assert sum(s[0] for s in four_shares) < m and shared.shape == single.shape
    assert np.all(np.abs(shared - single) <= rounding_bound(a, b)), "a share differs from the single product"


def test_a_three_dimensional_product_is_split_along_its_first_axis(four_shares):
    rng = np.random.default_rng(3)
    a = np.transpose(rng.standard_normal((32, 50, 64)), (1, 0, 2))  # an RNN's [T, B, I] view
    b = rng.standard_normal((64, 128))
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        single = a @ b
    shared = cores.matmul(np, a, b)
    assert len(four_shares) == 3 and shared.shape == (50, 32, 128)
    assert np.all(np.abs(shared - single) <= rounding_bound(a, b))


def test_float32_products_stay_float32(four_shares):
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((256, 256)).astype(np.float32), rng.standard_normal((256, 256)).astype(np.float32)
    shared = cores.matmul(np, a, b)
    assert shared.dtype == np.float32 and len(four_shares) == 3
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        single = a @ b
    assert np.all(np.abs(shared - single) <= rounding_bound(a, b, np.float32))


def test_small_products_and_few_rows_are_not_shared(four_shares):
    rng = np.random.default_rng(5)
    small = rng.standard_normal((256, 10)), rng.standard_normal((10, 256))  # 655k multiply-adds
    few_rows = rng.standard_normal((20, 4096)), rng.standard_normal((4096, 256))  # large, 20 rows
    assert cores.shares(*small, threads=4) == 1
    assert cores.shares(*few_rows, threads=4) == 0
    for a, b in (small, few_rows):
        assert np.array_equal(cores.matmul(np, a, b), a @ b)
    assert four_shares == []


@pytest.mark.parametrize("one_thread", ["threadpoolctl", "serial_blas"])
def test_one_blas_thread_gives_the_plain_product_and_starts_no_thread(monkeypatch, one_thread):
    monkeypatch.setattr(cores, "_pool", None)
    rng = np.random.default_rng(6)
    a, b = rng.standard_normal((256, 784)), rng.standard_normal((784, 256))
    limit = threadpoolctl.threadpool_limits(1, user_api="blas") if one_thread == "threadpoolctl" else serial_blas(np)
    before = threading.active_count()
    with limit:
        assert cores.blas_threads() == 1
        product = cores.matmul(np, a, b)
        plain = a @ b
    assert np.array_equal(product, plain)
    assert cores._pool is None and threading.active_count() == before


def test_the_blas_setting_is_restored_after_a_shared_product(four_shares):
    with threadpoolctl.threadpool_limits(3, user_api="blas"):
        cores.matmul(np, np.ones((256, 256)), np.ones((256, 256)))
        assert len(four_shares) == 3
        assert [lib.num_threads for lib in cores.blas_controllers()] == [3] * len(cores.blas_controllers())


def test_torch_tensors_get_their_own_product():
    torch = pytest.importorskip("torch")
    a, b = torch.ones((256, 256), dtype=torch.float64), torch.ones((256, 256), dtype=torch.float64)
    assert torch.equal(cores.matmul(None, a, b), a @ b)


def _shared_product_in_child(queue):
    a = np.arange(256 * 256, dtype=np.float64).reshape(256, 256) / 65536
    queue.put(float(cores.matmul(np, a, a).sum()))


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")
def test_a_forked_child_starts_its_own_pool(four_shares):
    cores.matmul(np, np.ones((256, 256)), np.ones((256, 256)))  # the parent's pool has threads now
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_shared_product_in_child, args=(queue,))
    child.start()
    child.join(timeout=60)
    alive = child.is_alive()
    if alive:
        child.kill()
    assert not alive, "the forked child hung on its parent's thread pool"
    a = np.arange(256 * 256, dtype=np.float64).reshape(256, 256) / 65536
    assert queue.get(timeout=5) == pytest.approx(float((a @ a).sum()), rel=1e-12)


def _step(network, loss_name, batch_shape, target_shape, classes):
    params, inputs, targets = random_problem(network.param_shapes(), batch_shape, target_shape,
                                             targets="classes", classes=classes, seed=7)
    model, loss = build_model(network), losses.get(loss_name)
    cache = model.forward(np, params, inputs)
    grads = model.backward(np, params, cache, loss.gradient(np, cache.outputs, targets), need_input_grads=True)
    return {"outputs": cache.outputs, **grads.grads, **grads.input_grads}


NETWORKS = {
    "mlp 784-256-256-10 batch 256": (MLPNetwork(sizes=(784, 256, 256, 10), activations=("relu", "relu", "identity")),
                                     (256, 784), (256,), 10),
    "rnn 64-128-10 T 20 batch 64": (RNNNetwork(input_size=64, hidden_size=128, output_size=10, nonlinearity="tanh",
                                               output_activation="identity", readout="every_step"),
                                    (64, 20, 64), (64, 20), 10),
}


@pytest.mark.parametrize("name", list(NETWORKS))
def test_a_batch_step_on_shared_products_equals_the_one_thread_step(monkeypatch, name):
    network, batch_shape, target_shape, classes = NETWORKS[name]
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        single = _step(network, "cross_entropy", batch_shape, target_shape, classes)
    submitted = pretend_cores(monkeypatch, 2)
    shared = _step(network, "cross_entropy", batch_shape, target_shape, classes)
    assert len(submitted) >= 4, "the large products were not shared"
    for key, value in single.items():
        scale = np.max(np.abs(value))
        np.testing.assert_allclose(shared[key], value, rtol=0, atol=1e-13 * scale, err_msg=key)


def test_a_product_too_small_for_blas_threads_asks_nothing(monkeypatch):
    def no_asking():
        raise AssertionError("asked for the BLAS threads")

    monkeypatch.setattr(cores, "blas_threads", no_asking)
    a, b = np.ones((8, 64)), np.ones((64, 64))  # a small network's batch: 32k multiply-adds
    assert np.array_equal(cores.matmul(np, a, b), a @ b)
