// W0: the machine's GEMM limit through LibTorch (torch::mm, n x n by n x n, 2 n^3 FLOPs),
// float32 and bfloat16, to put the other figures in proportion. Peer: bench/peers/w0_matmul.py.
//   bench_matmul [--sizes 1024,2048] [--blocks 3] [--block-seconds 0.3] [--threads 2]
#include <cmath>

#include <torch/torch.h>

#include "bench/bench_common.h"
#include "core/common/runtime.h"

using namespace vitrine;

int main(int argc, char** argv) {
    core::ensureFastBlas(argc, argv);
    bench::Args args(argc, argv);
    core::setComputeThreads(static_cast<int>(args.num("threads", 2)));
    const int blocks = static_cast<int>(args.num("blocks", 3));
    const double blockSeconds = args.num("block-seconds", 0.3);
    torch::InferenceMode guard;
    for (const auto& s : args.list("sizes", "1024,2048")) {
        const int n = std::stoi(s);
        torch::manual_seed(0);
        const auto a = torch::randn({n, n});
        const auto b = torch::randn({n, n});
        for (auto dtype : {torch::kFloat32, torch::kBFloat16}) {
            const auto x = a.to(dtype), y = b.to(dtype);
            auto fn = [&] { return torch::mm(x, y); };
            fn();
            auto t0 = std::chrono::steady_clock::now();
            fn();
            const int inner = std::max(1,
                                       static_cast<int>(std::ceil(blockSeconds / std::max(bench::seconds(t0), 1e-6))));
            auto secs = bench::timeBlocks(fn, blocks, inner, 0);
            std::vector<double> gflops;
            for (double t : secs)
                gflops.push_back(2.0 * n * n * double(n) / t / 1e9);
            const std::string name = dtype == torch::kFloat32 ? "fp32" : "bf16";
            bench::emit("W0", "matmul " + name + " " + s, bench::median(gflops), "GFLOP/s", true,
                        {{"blocks", gflops}, {"threads", core::computeThreads()}});
        }
    }
}
