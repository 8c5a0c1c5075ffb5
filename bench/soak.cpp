// Soak: N cycles of scan -> train a few steps -> cancel -> load checkpoint -> embed -> export
// in one process, printing the resident set size after each cycle (issue 8: growth after
// the first cycle must stay under 10 %).
//
//   soak --data DIR [--model tiny|PRESET|FILE] [--cycles 20] [--steps 3] [--work DIR] [--threads 2]
#include <cstdio>
#include <cstring>
#include <string>

#include <torch/torch.h>

#include "core/common/runtime.h"
#include "tests/soak_cycle.h"

int main(int argc, char** argv) {
    vitrine::core::ensureFastBlas(argc, argv);
    vitrine::soak::SoakConfig c;
    c.model = "tiny";
    c.work = std::filesystem::temp_directory_path() / "vitrine-soak";
    int cycles = 20, threads = 2;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string k = argv[i], v = argv[i + 1];
        if (k == "--data")
            c.data = v;
        else if (k == "--model")
            c.model = v;
        else if (k == "--cycles")
            cycles = std::stoi(v);
        else if (k == "--steps")
            c.steps = std::stoi(v);
        else if (k == "--work")
            c.work = v;
        else if (k == "--threads")
            threads = std::stoi(v);
        else {
            std::fprintf(stderr, "unknown option %s\n", k.c_str());
            return 2;
        }
    }
    if (c.data.empty()) {
        std::fprintf(stderr,
                     "usage: soak --data DIR [--model tiny|PRESET|FILE] [--cycles N] [--steps N] [--work DIR]\n");
        return 2;
    }
    vitrine::core::setComputeThreads(threads);
    std::filesystem::create_directories(c.work);
    if (c.model == "tiny") { // a 2-block, 32-wide ViT at 32x32: the cycle's cost is I/O and bookkeeping
        vitrine::core::model::VitConfig cfg;
        cfg.name = "soak-tiny";
        cfg.imageSize = 32;
        cfg.patchSize = 8;
        cfg.dim = 32;
        cfg.depth = 2;
        cfg.heads = 2;
        cfg.embedDim = 16;
        torch::manual_seed(0);
        vitrine::core::model::Vit vit(cfg);
        c.model = c.work / "start.safetensors";
        vitrine::core::model::saveCheckpoint(c.model, *vit);
    }
    const long start = vitrine::soak::residentKiB();
    std::printf("cycle,rss_kib,growth_vs_cycle1_pct,steps,embedded\n");
    long first = 0, peak = 0;
    for (int cycle = 1; cycle <= cycles; ++cycle) {
        const auto r = vitrine::soak::runSoakCycle(c, cycle);
        const long rss = vitrine::soak::residentKiB();
        if (cycle == 1)
            first = rss;
        peak = std::max(peak, rss);
        std::printf("%d,%ld,%.1f,%lld,%zu\n", cycle, rss, 100.0 * double(rss - first) / double(first),
                    static_cast<long long>(r.trainedSteps), r.embedded);
        std::fflush(stdout);
    }
    std::printf("# start %ld KiB, after cycle 1 %ld KiB, peak after a cycle %ld KiB\n", start, first, peak);
    return 0;
}
