#!/usr/bin/env bash
# The CUDA checks that need a GPU, in two steps:
#
#   scripts/gpu-check.sh build   # here, with the Rust toolchain: release test
#                                # binaries and the MNIST example with the
#                                # `cuda` feature, copied to gpu-bin/
#   scripts/gpu-check.sh run     # on the GPU machine (no toolchain needed),
#                                # from the repository root, gpu-bin/ carried
#
# `run` finds libcublas and libnvrtc in pip's nvidia wheels (or the CUDA
# toolkit), then runs: the op test matrix on cuda:0 against the CPU, the
# CUDA device tests (MLP and CNN gradients to 1e-4 in f32, running
# statistics, Adam, training, errors), the generated-vs-tape step benchmark
# (benches/gpu.rs), MNIST training with --device cuda (the
# README quick start's job) and a short ConvNet run on the bundled CIFAR-10
# fixture, and writes everything to $OUT (or gpu-out/) as logs.
set -euo pipefail
cd "$(dirname "$0")/.."

build() {
    rm -rf gpu-bin && mkdir -p gpu-bin
    cargo build --release --features cuda --example mnist_mlp --example cifar_cnn
    cp target/release/examples/mnist_mlp target/release/examples/cifar_cnn gpu-bin/
    cargo test --release --features cuda --no-run --test op_matrix --test cuda_device \
        --message-format=json 2>/dev/null |
        python3 -c '
import json, sys, shutil
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["test"]:
        shutil.copy(m["executable"], "gpu-bin/" + m["target"]["name"])
'
    cargo bench --features cuda --bench gpu --no-run --message-format=json 2>/dev/null |
        python3 -c '
import json, sys, shutil
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "gpu":
        shutil.copy(m["executable"], "gpu-bin/gpu_bench")
'
    strip gpu-bin/* 2>/dev/null || true
    ls -la gpu-bin
    grep -qx '/gpu-bin/' .git/info/exclude 2>/dev/null || echo '/gpu-bin/' >>.git/info/exclude
}

run() {
    out="${OUT:-gpu-out}"
    mkdir -p "$out"
    nvidia-smi -L | tee "$out/device.txt"
    libs=$(find /usr /opt -xdev \( -name 'libcublas.so*' -o -name 'libnvrtc.so*' \) 2>/dev/null |
        xargs -r -n1 dirname | sort -u | tr '\n' ':')
    export LD_LIBRARY_PATH="${libs}${LD_LIBRARY_PATH:-}"
    echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH" | tee -a "$out/device.txt"
    status=0
    gpu-bin/cuda_device --nocapture 2>&1 | tee "$out/cuda_device.log" || status=1
    gpu-bin/gpu_bench 2>&1 | tee "$out/gpu_bench.log" || status=1
    gpu-bin/op_matrix matrix_cuda 2>&1 | tee "$out/op_matrix.log" || status=1
    (time gpu-bin/mnist_mlp --device cuda --data data/mnist --out "$out/mnist") 2>&1 |
        tee "$out/mnist.log" || status=1
    # The fixture's 200 records stand in for every CIFAR-10 file.
    mkdir -p "$out/cifar-data"
    for f in data_batch_1 data_batch_2 data_batch_3 data_batch_4 data_batch_5 test_batch; do
        cp data/cifar10-fixture/data_batch_1.bin.gz "$out/cifar-data/$f.bin.gz"
    done
    (time gpu-bin/cifar_cnn --device cuda --data "$out/cifar-data" --steps 40 \
        --test-limit 100 --train-eval 100 --eval-batch 100 --out "$out/cifar") 2>&1 |
        tee "$out/cifar.log" || status=1
    exit $status
}

case "${1:-}" in
    build) build ;;
    run) run ;;
    *) echo "usage: $0 build|run" >&2; exit 2 ;;
esac
