#pragma once
// One soak cycle, shared by bench/soak.cpp (20 cycles) and the [soak] test (a few): what a
// GUI session repeats for hours, in one process: scan a data set, train a few steps, cancel
// (checkpoint written), load that checkpoint, embed the set with it, export CSV and a
// projector bundle. Memory that any of these leaks shows up as RSS growth per cycle.

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "core/common/error.h"
#include "core/data/dataset.h"
#include "core/io/embedding_export.h"
#include "core/model/checkpoint.h"
#include "core/model/embedder.h"
#include "core/train/trainer.h"

namespace vitrine::soak {

namespace fs = std::filesystem;

struct SoakConfig {
    fs::path data;  ///< folder-per-class images
    fs::path model; ///< preset name or .safetensors to start training from
    fs::path work;  ///< folder for the checkpoint and exports (overwritten every cycle)
    int steps = 3;  ///< training steps before the cancel
    int labelLevel = -1;
};

struct CycleResult {
    std::int64_t trainedSteps = 0;
    std::size_t embedded = 0;
};

/// Resident set size of this process in KiB (/proc/self/status VmRSS), 0 if unknown.
inline long residentKiB() {
    std::ifstream in("/proc/self/status");
    for (std::string line; std::getline(in, line);)
        if (line.rfind("VmRSS:", 0) == 0)
            return std::stol(line.substr(6));
    return 0;
}

inline CycleResult runSoakCycle(const SoakConfig& c, int cycle) {
    CycleResult out;
    auto ds = std::make_shared<core::data::Dataset>(core::data::scanFolder(c.data));

    core::train::TrainOptions o;
    o.dataset = ds;
    o.model = c.model.string();
    o.labelLevel = c.labelLevel;
    o.pk = {/*classesPerBatch=*/4, /*imagesPerClass=*/4};
    o.stepsPerEpoch = 1000; // never reached: the run is cancelled after c.steps steps
    o.epochs = 1;
    o.seed = std::uint64_t(cycle);
    o.checkpointPath = c.work / "soak.safetensors";
    core::CancelToken stop;
    o.cancel = &stop;
    o.phaseHook = [&](core::train::TrainPhase p, std::int64_t step) {
        if (p == core::train::TrainPhase::Forward && step == c.steps + 1)
            stop.cancel();
    };
    core::train::Trainer trainer(o);
    const auto r = trainer.run();
    if (!r.cancelled || !r.checkpointWritten)
        throw core::Error("soak cycle " + std::to_string(cycle) + ": the run was not cancelled with a checkpoint");
    out.trainedSteps = r.steps;

    auto loaded = core::model::loadModel(o.checkpointPath.string());
    core::io::EmbeddingSet set;
    set.rows.columns = {"path", "label"};
    std::vector<float> rows;
    int dim = 0;
    core::model::EmbedOptions eo;
    eo.batchSize = 16;
    eo.precision = core::Precision::Fp32;
    core::model::embedDataset(*loaded.model, *ds, eo, [&](const core::model::EmbeddedBatch& b) {
        dim = b.dim;
        rows.insert(rows.end(), b.rows, b.rows + b.indices.size() * std::size_t(b.dim));
        for (auto i : b.indices)
            set.rows.rows.push_back({ds->samples[i].relativePath, core::data::Dataset::labelAt(ds->samples[i], -1)});
    });
    set.embeddings.rows = set.rows.size();
    set.embeddings.cols = dim;
    set.embeddings.data = std::move(rows);
    out.embedded = std::size_t(set.rows.size());

    core::io::ExportOptions csv;
    csv.format = core::io::ExportFormat::Csv;
    core::io::exportEmbeddings(set, c.work / "soak.csv", csv);
    core::io::ExportOptions projector;
    projector.format = core::io::ExportFormat::Projector;
    projector.imagesRoot = ds->root;
    projector.maxThumbnail = 32;
    core::io::exportEmbeddings(set, c.work / "bundle", projector);
    return out;
}

} // namespace vitrine::soak
