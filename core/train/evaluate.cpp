#include "core/train/evaluate.h"

#include <chrono>
#include <set>

#include <opencv2/imgproc.hpp>

#include "core/common/error.h"
#include "core/data/dataset.h"
#include "core/image/augment.h"
#include "core/image/preprocess.h"
#include "core/model/checkpoint.h"
#include "core/train/embed_batch.h"

namespace vitrine::core::train {

Split parseSplit(const std::string& name) {
    if (name == "val" || name == "validation")
        return Split::Validation;
    if (name == "train")
        return Split::Train;
    if (name == "all")
        return Split::All;
    throw Error("unknown split '" + name + "'; use val, train or all");
}

std::pair<std::vector<std::size_t>, std::vector<std::size_t>>
trainValidationSplit(const data::Dataset& ds, int labelLevel, double validationFraction) {
    const auto names = ds.classNames(labelLevel);
    const auto ids = ds.classIds(labelLevel);
    std::vector<std::vector<std::size_t>> tr(names.size()), va(names.size());
    for (std::size_t i = 0; i < ds.samples.size(); ++i)
        (data::isValidation(ds.samples[i].relativePath, validationFraction) ? va : tr)[std::size_t(ids[i])].push_back(
            i);
    std::vector<std::size_t> train, val;
    for (std::size_t c = 0; c < names.size(); ++c) {
        if (tr[c].empty())
            std::swap(tr[c], va[c]);
        train.insert(train.end(), tr[c].begin(), tr[c].end());
        val.insert(val.end(), va[c].begin(), va[c].end());
    }
    std::sort(train.begin(), train.end());
    std::sort(val.begin(), val.end());
    return {train, val};
}

namespace {

struct Selection {
    data::Dataset ds;
    std::vector<std::size_t> indices;
    std::vector<int> labels;
};

Selection select(const std::filesystem::path& dataDir, const EvalOptions& o, const ProgressFn& progress,
                 const CancelToken* cancel) {
    Selection s;
    data::ScanOptions so;
    so.verifyImages = false;
    s.ds = data::scanFolder(dataDir, so, progress, cancel);
    if (s.ds.samples.empty())
        throw Error(dataDir, "no images found; put images in one sub-folder per class");
    auto [train, val] = trainValidationSplit(s.ds, o.labelLevel, o.validationFraction);
    if (o.split == Split::Validation)
        s.indices = val;
    else if (o.split == Split::Train)
        s.indices = train;
    else {
        s.indices.resize(s.ds.samples.size());
        for (std::size_t i = 0; i < s.indices.size(); ++i)
            s.indices[i] = i;
    }
    if (s.indices.size() < 2)
        throw Error(dataDir, "fewer than 2 images in the chosen split; use --split all or add images");
    const auto ids = s.ds.classIds(o.labelLevel);
    for (auto i : s.indices)
        s.labels.push_back(ids[i]);
    return s;
}

// load(path) -> one item (throws core::Error for a bad file); embed(items, labels) -> metrics.
template <class Load, class Embed>
EvalReport evaluateWith(const std::filesystem::path& dataDir, const EvalOptions& o, const ProgressFn& progress,
                        const CancelToken* cancel, Load&& load, Embed&& embed) {
    const auto t0 = std::chrono::steady_clock::now();
    auto sel = select(dataDir, o, progress, cancel);
    EvalReport rep;
    std::vector<decltype(load(sel.ds.samples.front().path))> squares;
    std::vector<int> labels;
    for (std::size_t k = 0; k < sel.indices.size(); ++k) {
        if (cancel)
            cancel->check();
        const auto& sample = sel.ds.samples[sel.indices[k]];
        try {
            squares.push_back(load(sample.path));
            labels.push_back(sel.labels[k]);
        } catch (const Error& e) {
            rep.warnings.push_back(std::string(e.what()) + "; skipped");
        }
        report(progress, (long long)k + 1, (long long)sel.indices.size(), StageKind::LoadingImages);
    }
    rep.metrics = embed(squares, labels);
    rep.images = labels.size();
    rep.classes = std::set<int>(labels.begin(), labels.end()).size();
    rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return rep;
}

} // namespace

EvalReport evaluateModel(const std::string& modelName, const std::filesystem::path& dataDir, const EvalOptions& o,
                         const ProgressFn& progress, const CancelToken* cancel) {
    model::LoadOptions lo;
    lo.imageSize = o.imageSize;
    lo.pool = o.pool;
    lo.seed = o.seed;
    lo.preprocess = o.preprocess;
    auto loaded = model::loadModel(modelName, lo);
    auto& m = *loaded.model;
    // The model's own preprocessing, as `embed` and training's validation use.
    const auto input = m.config().inputOptions();
    auto rep = evaluateWith(
        dataDir, o, progress, cancel, [&](const std::filesystem::path& f) { return image::loadPreprocessed(f, input); },
        [&](const std::vector<torch::Tensor>& items, const std::vector<int>& labels) {
            auto emb = embedInputs(m, items.empty() ? torch::Tensor() : torch::stack(items), o.batchSize, o.precision,
                                   cancel, progress);
            return metricsOf(emb, labels, o.knnK);
        });
    rep.source = loaded.source;
    rep.warnings.insert(rep.warnings.begin(), loaded.warnings.begin(), loaded.warnings.end());
    return rep;
}

EvalReport evaluatePixelBaseline(const std::filesystem::path& dataDir, const EvalOptions& o, const ProgressFn& progress,
                                 const CancelToken* cancel) {
    const int side = o.pixelSide;
    // Decode at a moderate size first so area averaging sees the whole picture.
    const int decodeSide = std::max(side, 64);
    auto rep = evaluateWith(
        dataDir, o, progress, cancel,
        [&](const std::filesystem::path& f) { return image::centerSquare(loadResized(f, decodeSide), decodeSide); },
        [&](const std::vector<cv::Mat>& squares, const std::vector<int>& labels) {
            std::vector<float> rows;
            for (const auto& sq : squares) {
                cv::Mat small, f;
                cv::resize(sq, small, cv::Size(side, side), 0, 0, cv::INTER_AREA);
                small.convertTo(f, CV_32FC3, 1.0 / 255.0);
                rows.insert(rows.end(), (float*)f.data, (float*)f.data + f.total() * 3);
            }
            return retrievalMetrics(rows, std::size_t(side) * side * 3, labels, o.knnK);
        });
    rep.source = "pixels " + std::to_string(side) + "x" + std::to_string(side);
    return rep;
}

} // namespace vitrine::core::train
