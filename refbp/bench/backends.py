"""The backends `refbp bench batch` and `refbp bench rnn` time, by name: constants only, so that
the command line can list them without importing the benchmarks (pandas, torch)."""

BATCH_BACKENDS = ("refbp-numpy", "refbp-torch-cpu", "torch-autograd-cpu", "refbp-torch-cuda", "torch-autograd-cuda")
RNN_BACKENDS = ("refbp-numpy", "torch-nn-rnn-cpu", "refbp-torch-cuda", "torch-nn-rnn-cuda")
