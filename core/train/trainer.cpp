#include "core/train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <tuple>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/common/error.h"
#include "core/common/precision_scope.h"
#include "core/data/dataset.h"
#include "core/image/preprocess.h"
#include "core/model/checkpoint.h"
#include "core/model/checkpoint_metadata.h"
#include "core/train/distributed.h"
#include "core/train/embed_batch.h"
#include "core/train/evaluate.h"
#include "core/train/triplet.h"
#include "core/train/validator.h"

namespace vitrine::core::train {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Trainer::Impl {
    model::Vit model{nullptr};
    mutable std::mutex weightsMutex; ///< held while the optimizer writes the weights
};

namespace {

std::uint64_t mix(std::uint64_t seed, std::uint64_t a, std::uint64_t b) {
    std::uint64_t z = seed ^ (a * 0x9e3779b97f4a7c15ULL) ^ (b * 0xc2b2ae3d27d4eb4fULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

double learningRateAt(const TrainOptions& o, std::int64_t step, std::int64_t total) {
    // step is 0-based here. Linear warm-up to the peak, then cosine to minLearningRateFactor.
    const auto warm = std::max<std::int64_t>(1, std::int64_t(std::llround(o.warmupFraction * double(total))));
    if (step < warm)
        return o.learningRate * double(step + 1) / double(warm);
    const double t = total > warm ? double(step - warm) / double(std::max<std::int64_t>(1, total - warm)) : 1.0;
    const double lo = o.learningRate * o.minLearningRateFactor;
    return lo + 0.5 * (o.learningRate - lo) * (1.0 + std::cos(M_PI * std::min(1.0, t)));
}

/// Batch-hard triplet per anchor, the most violating few; cheap ([B, B] distances, B ~ 32).
std::vector<HardTriplet> hardestTriplets(const torch::Tensor& emb, const std::vector<std::int64_t>& labels,
                                         const std::vector<std::size_t>& batch, const TripletLossOptions& lo) {
    std::vector<HardTriplet> out;
    if (emb.size(0) != std::int64_t(labels.size()) || labels.size() != batch.size())
        return out;
    torch::NoGradGuard noGrad;
    auto d = pairwiseDistances(emb, lo.distance).contiguous();
    const auto n = std::int64_t(labels.size());
    auto acc = d.accessor<float, 2>();
    for (std::int64_t a = 0; a < n; ++a) {
        std::int64_t p = -1, q = -1;
        for (std::int64_t j = 0; j < n; ++j) {
            if (j == a)
                continue;
            if (labels[std::size_t(j)] == labels[std::size_t(a)]) {
                if (p < 0 || acc[a][j] > acc[a][p])
                    p = j;
            } else if (q < 0 || acc[a][j] < acc[a][q]) {
                q = j;
            }
        }
        if (p < 0 || q < 0)
            continue;
        HardTriplet t;
        t.anchor = std::int64_t(batch[std::size_t(a)]);
        t.positive = std::int64_t(batch[std::size_t(p)]);
        t.negative = std::int64_t(batch[std::size_t(q)]);
        t.dPositive = acc[a][p];
        t.dNegative = acc[a][q];
        t.margin = lo.margin;
        out.push_back(t);
    }
    std::sort(out.begin(), out.end(), [](const HardTriplet& x, const HardTriplet& y) {
        return x.dPositive - x.dNegative > y.dPositive - y.dNegative;
    });
    if (out.size() > 6)
        out.resize(6);
    return out;
}

// ---- Training data: the data set at the run's label level and its stable split.

struct TrainingData {
    std::shared_ptr<const data::Dataset> dataset;
    fs::path root;
    std::vector<std::string> classNames;
    std::vector<int> classIds; ///< per sample
    std::vector<std::size_t> train, validation;
};

/// o.dataset, or a scan of o.dataDir (Scanning progress; throws Cancelled), split by
/// trainValidationSplit. Throws core::Error with what to add when triplets are impossible.
TrainingData loadTrainingData(const TrainOptions& o, const ProgressFn& progress) {
    TrainingData d;
    d.dataset = o.dataset;
    if (!d.dataset) {
        data::ScanOptions so;
        so.verifyImages = false; // every image is decoded by the preload anyway
        d.dataset = std::make_shared<data::Dataset>(data::scanFolder(o.dataDir, so, progress, o.cancel));
    }
    const auto& ds = *d.dataset;
    d.root = ds.root.empty() ? o.dataDir : ds.root;
    if (ds.samples.empty())
        throw Error(d.root, "no images found; put images in one sub-folder per class");
    d.classNames = ds.classNames(o.labelLevel);
    d.classIds = ds.classIds(o.labelLevel);
    std::tie(d.train, d.validation) = trainValidationSplit(ds, o.labelLevel, o.validationFraction);
    if (d.classNames.size() < 2)
        throw Error(d.root, "cannot train with triplets: they need images of at least 2 classes, but label level " +
                                std::to_string(o.labelLevel) + " has only " +
                                (d.classNames.empty() ? std::string("none") : "'" + d.classNames.front() + "'") +
                                ". Add a sub-folder of images of another class next to it, or choose another "
                                "--label-level.");
    return d;
}

// ---- Resume state: the model to start from and where its schedule stands.

struct StartPoint {
    model::LoadedModel loaded;
    std::int64_t step = 0;      ///< optimizer steps already taken
    std::uint64_t seed = 0;     ///< the sampler's seed (a resumed run keeps its own)
    model::TrainingState state; ///< resumed: the checkpoint's training state
};

StartPoint loadStartPoint(const TrainOptions& o) {
    model::LoadOptions lo;
    lo.imageSize = o.imageSize;
    lo.seed = o.seed; // a fresh preset's random initialisation follows --seed
    lo.pool = o.pool;
    lo.preprocess = o.preprocess;
    // Imported backbones have no projection head: give them one that starts as the identity,
    // so training starts from the pretrained features rather than a random projection.
    lo.addIdentityHead = true;
    StartPoint start;
    start.seed = o.seed;
    if (!o.resume) {
        start.loaded = model::loadModel(o.model, lo);
        return start;
    }
    if (o.checkpointPath.empty() || !fs::exists(o.checkpointPath))
        throw Error(o.checkpointPath, "nothing to resume from: the checkpoint does not exist; start without --resume");
    start.loaded = model::loadModel(o.checkpointPath.string(), lo);
    start.state = model::parseTrainingState(start.loaded.metadata, o.checkpointPath);
    start.step = start.state.step;
    start.seed = start.state.seed.value_or(start.seed);
    return start;
}

// ---- Trainable parameters and their optimizer.

struct Optimization {
    std::vector<std::pair<std::string, torch::Tensor>> trainable; ///< by timm name
    std::vector<torch::Tensor> tensors;                           ///< the same, in order
    std::unique_ptr<torch::optim::AdamW> adamw;
};

/// Head only, the last N blocks, or everything; AdamW with weight decay on matrices only.
/// Resumed: the checkpoint's moments for the parameters it has them for.
Optimization makeOptimization(model::VitImpl& model, const TrainOptions& o, const StartPoint& start) {
    Optimization out;
    const int depth = model.config().depth;
    std::vector<torch::Tensor> decay, noDecay;
    for (auto& item : model.named_parameters()) {
        const auto& name = item.key();
        bool train = true;
        if (o.freezeBackbone) {
            train = name.rfind("head.", 0) == 0;
        } else if (o.trainableBlocks >= 0) {
            train = name.rfind("head.", 0) == 0 || name.rfind("norm.", 0) == 0;
            if (name.rfind("blocks.", 0) == 0) {
                const int block = std::stoi(name.substr(7));
                train = block >= depth - o.trainableBlocks;
            }
        }
        item.value().set_requires_grad(train);
        if (!train)
            continue;
        out.trainable.emplace_back(name, item.value());
        out.tensors.push_back(item.value());
        (item.value().dim() >= 2 && name != "pos_embed" && name != "cls_token" ? decay : noDecay)
            .push_back(item.value());
    }
    if (out.trainable.empty())
        throw Error("nothing to train: the model has no projection head to train on a frozen backbone; "
                    "use a model with embed_dim > 0 or do not freeze the backbone");
    std::vector<torch::optim::OptimizerParamGroup> groups;
    groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(
                                   torch::optim::AdamWOptions(o.learningRate).weight_decay(o.weightDecay)));
    groups.emplace_back(noDecay, std::make_unique<torch::optim::AdamWOptions>(
                                     torch::optim::AdamWOptions(o.learningRate).weight_decay(0.0)));
    out.adamw = std::make_unique<torch::optim::AdamW>(std::move(groups), torch::optim::AdamWOptions(o.learningRate));
    if (!o.resume)
        return out;
    const auto& saved = start.loaded.extraTensors;
    for (auto& [name, p] : out.trainable) {
        auto m1 = saved.find("optimizer/" + name + "/exp_avg");
        auto m2 = saved.find("optimizer/" + name + "/exp_avg_sq");
        if (m1 == saved.end() || m2 == saved.end())
            continue; // e.g. the previous run froze it; its moments start at zero
        auto st = std::make_unique<torch::optim::AdamWParamState>();
        const auto stepIt = start.state.optimizerSteps.find(name);
        st->step(stepIt != start.state.optimizerSteps.end() ? stepIt->second : start.step);
        st->exp_avg(m1->second.to(p.options()).clone());
        st->exp_avg_sq(m2->second.to(p.options()).clone());
        out.adamw->state()[c10::guts::to_string(p.unsafeGetTensorImpl())] = std::move(st);
    }
    return out;
}

// ---- The run's shape: how many steps, on how many ranks.

struct RunShape {
    ProcessGroup* dist = nullptr; ///< several processes; null = this one alone
    int rank = 0, worldSize = 1, accumulate = 1;
    std::int64_t batchSize = 0; ///< images per step over all ranks and shards
    std::int64_t stepsPerEpoch = 0, totalSteps = 0;
    std::uint64_t seed = 0;
    Precision precision = Precision::Fp32;
};

/// The checkpoint's metadata ("training", "class_names", "validation") and extra tensors
/// (the optimizer's moments), as `resume` reads them back.
void writeTrainingCheckpoint(const TrainOptions& o, const RunShape& shape, std::int64_t step, model::VitImpl& model,
                             const Optimization& opt, const std::vector<std::string>& classNames,
                             const RetrievalMetrics* metrics, std::mutex& weightsMutex) {
    std::map<std::string, torch::Tensor> extras;
    nlohmann::json optimizerSteps = nlohmann::json::object();
    for (auto& [name, p] : opt.trainable) {
        auto it = opt.adamw->state().find(c10::guts::to_string(p.unsafeGetTensorImpl()));
        if (it == opt.adamw->state().end())
            continue;
        auto& st = static_cast<torch::optim::AdamWParamState&>(*it->second);
        extras["optimizer/" + name + "/exp_avg"] = st.exp_avg().detach().cpu();
        extras["optimizer/" + name + "/exp_avg_sq"] = st.exp_avg_sq().detach().cpu();
        optimizerSteps[name] = st.step();
    }
    nlohmann::json training = {
        {"step", step},
        {"epoch", step / shape.stepsPerEpoch},
        {"total_steps", shape.totalSteps},
        {"steps_per_epoch", shape.stepsPerEpoch},
        {"seed", shape.seed},
        {"optimizer", "adamw"},
        {"optimizer_steps", optimizerSteps},
        {"learning_rate", o.learningRate},
        {"weight_decay", o.weightDecay},
        {"warmup_fraction", o.warmupFraction},
        {"min_lr_factor", o.minLearningRateFactor},
        {"miner", o.miner},
        {"distance", o.distance},
        {"margin", o.margin},
        {"soft_margin", o.softMargin},
        {"classes_per_batch", o.pk.classesPerBatch},
        {"images_per_class", o.pk.imagesPerClass},
        {"freeze_backbone", o.freezeBackbone},
        {"trainable_blocks", o.trainableBlocks},
        {"precision", precisionName(shape.precision)},
        {"augment", o.augment.enabled},
        {"label_level", o.labelLevel},
        {"world_size", shape.worldSize},
        {"accumulate", shape.accumulate},
    };
    nlohmann::json meta = {{"training", training}, {"class_names", classNames}, {"label_level", o.labelLevel}};
    if (metrics)
        meta["validation"] = retrievalMetricsJson(*metrics, /*withCounts=*/false);
    std::lock_guard lock(weightsMutex);
    model::saveCheckpoint(o.checkpointPath, model, meta, extras);
}

/// Same data, model and schedule on every rank, or the batches and the gradients would not
/// add up (throws core::Error saying which differs); then rank 0's weights everywhere (DDP's start).
void agreeAcrossRanks(ProcessGroup& dist, const std::vector<std::pair<const char*, double>>& facts,
                      const Optimization& opt) {
    auto lo = torch::empty({std::int64_t(facts.size())}, torch::kFloat64);
    for (std::size_t i = 0; i < facts.size(); ++i)
        lo[std::int64_t(i)] = facts[i].second;
    auto hi = lo.clone();
    dist.allreduceMin(lo);
    dist.allreduceMax(hi);
    for (std::size_t i = 0; i < facts.size(); ++i)
        if (lo[std::int64_t(i)].item<double>() != hi[std::int64_t(i)].item<double>())
            throw Error("the " + std::to_string(dist.worldSize()) + " ranks disagree on the " + facts[i].first +
                        " (from " + std::to_string(std::llround(lo[std::int64_t(i)].item<double>())) + " to " +
                        std::to_string(std::llround(hi[std::int64_t(i)].item<double>())) +
                        "): start every rank on the same data set, model and options");
    std::vector<torch::Tensor> weights;
    for (auto& [name, p] : opt.trainable)
        weights.push_back(p.detach());
    torch::NoGradGuard noGrad;
    dist.broadcastFromRank0(weights);
}

// ---- Preload: every image decoded once.

struct Preloaded {
    std::vector<cv::Mat> resized;        ///< per sample: the source augmentations crop from
    std::vector<torch::Tensor> prepared; ///< per sample: the model's input, ready
    std::vector<std::size_t> broken;     ///< samples that could not be read (warned, skipped)
};

// ---- Collapse monitor: every embedding at one point, or every triplet stuck at the margin.

class CollapseMonitor {
public:
    explicit CollapseMonitor(const TrainOptions& o) : m_margin(o.margin), m_softMargin(o.softMargin) {}

    /// After each step: a warning for people the first time either has lasted long enough.
    std::vector<std::string> observe(double meanPairwise, const StepStats& s) {
        std::vector<std::string> out;
        m_collapsed = meanPairwise < 0.05 ? m_collapsed + 1 : 0;
        m_saturated = (!m_softMargin && s.found > 0 && s.activeFraction > 0.95 &&
                       std::abs(s.loss - m_margin) < 0.1 * std::max(m_margin, 1e-3))
                          ? m_saturated + 1
                          : 0;
        if (m_collapsed >= 20 && !m_warnedCollapsed) {
            m_warnedCollapsed = true;
            out.push_back("embeddings collapsed: the mean distance between images has been below 0.05 for 20 "
                          "steps. Lower the learning rate or use --miner semi-hard / batch-all.");
        }
        if (m_saturated >= 30 && !m_warnedSaturated) {
            m_warnedSaturated = true;
            out.push_back("possible collapse: for 30 steps nearly all triplets were active with a loss equal to the "
                          "margin. Lower the learning rate, or try --miner semi-hard.");
        }
        return out;
    }

private:
    double m_margin;
    bool m_softMargin;
    int m_collapsed = 0, m_saturated = 0;
    bool m_warnedCollapsed = false, m_warnedSaturated = false;
};

} // namespace

namespace {

/// Decodes every image of `train` and `validation` once. Validation images (and training
/// images when nothing is augmented) go through the model's own preprocessing, the function
/// `embed`, the Inspector and query-by-image use, so validation metrics are measured on the
/// pixels people export; augmentations crop from a slightly larger resized copy. Empty when
/// `cancelled()` turned true on the way.
std::optional<Preloaded> preloadImages(const data::Dataset& ds, const std::vector<std::size_t>& train,
                                       const std::vector<std::size_t>& validation,
                                       const image::PreprocessOptions& input, bool augmented,
                                       const ProgressFn& progress, const std::function<void()>& beforeEach,
                                       const std::function<bool()>& cancelled,
                                       const std::function<void(const std::string&)>& warn) {
    Preloaded out;
    const int cacheSide = int(std::lround(input.resizeSize() * 1.15));
    out.resized.resize(ds.samples.size());
    out.prepared.resize(ds.samples.size());
    std::vector<std::size_t> needed(train);
    needed.insert(needed.end(), validation.begin(), validation.end());
    const std::set<std::size_t> isVal(validation.begin(), validation.end());
    std::size_t done = 0;
    for (auto i : needed) {
        beforeEach();
        if (cancelled())
            return std::nullopt;
        try {
            if (isVal.count(i) || !augmented)
                out.prepared[i] = image::loadPreprocessed(ds.samples[i].path, input);
            else
                out.resized[i] = loadResized(ds.samples[i].path, cacheSide);
        } catch (const Error& e) {
            warn(std::string(e.what()) + "; skipped");
            out.broken.push_back(i);
        }
        report(progress, (long long)++done, (long long)needed.size(), StageKind::LoadingImages);
    }
    return out;
}

/// Takes the samples that could not be read out of the split.
void dropUnreadable(TrainingData& data, const Preloaded& images) {
    auto drop = [&](std::vector<std::size_t>& v) {
        v.erase(
            std::remove_if(v.begin(), v.end(),
                           [&](std::size_t i) { return images.resized[i].empty() && !images.prepared[i].defined(); }),
            v.end());
    };
    drop(data.train);
    drop(data.validation);
}

/// The validation split's inputs, stacked once; the preloaded copies are released.
Validator takeValidator(const TrainingData& data, Preloaded& images) {
    std::vector<torch::Tensor> items;
    std::vector<int> labels;
    for (auto i : data.validation) {
        items.push_back(images.prepared[i]);
        labels.push_back(data.classIds[i]);
        images.prepared[i] = torch::Tensor();
    }
    return Validator(items.empty() ? torch::Tensor() : torch::stack(items), std::move(labels));
}

/// One optimizer step: `accumulate` P×K batches on each rank, numbered across the ranks so
/// that W ranks draw exactly the batches one process with W × accumulate would. Each shard
/// mines its own triplets; the step follows the mean of their gradients.
struct StepRunner {
    enum class End {
        Landed,         ///< the step is complete (stats.skipped: non-finite, no update made)
        Abandoned,      ///< cancelled during the forward or backward pass: no update made
        StoppedByRanks, ///< several processes: a rank asked to stop; no update made
        RankLost,       ///< several processes: the all-reduce failed (`message` says why)
    };
    struct Outcome {
        End end = End::Landed;
        StepStats stats;
        double meanPairwise = 0; ///< mean distance between the batch's embeddings
        std::size_t images = 0;  ///< on this rank
        std::string message;
    };

    const TrainOptions& o;
    const RunShape& shape;
    const data::PkSampler& sampler;
    const Preloaded& images;
    const std::vector<int>& classIds;
    const image::PreprocessOptions& input;
    model::VitImpl& model;
    Optimization& opt;
    const TripletLossOptions& lossOptions;
    std::mutex& weightsMutex;
    std::function<bool()> cancelled;
    std::function<void(TrainPhase, std::int64_t)> phase;

    Outcome run(std::int64_t step) const {
        Outcome out;
        StepStats& s = out.stats;
        auto& optimizer = *opt.adamw;
        ProcessGroup* const dist = shape.dist;
        const int accumulate = shape.accumulate;
        const double lr = learningRateAt(o, step, shape.totalSteps);
        for (auto& g : optimizer.param_groups())
            static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
        optimizer.zero_grad();
        phase(TrainPhase::Forward, step + 1);
        s.step = step + 1;
        s.totalSteps = shape.totalSteps;
        s.epoch = int(step / shape.stepsPerEpoch) + 1;
        s.learningRate = lr;
        auto abandon = [&](End end) {
            optimizer.zero_grad(); // the weights are still those of `step` steps
            out.end = end;
            return out;
        };
        double lossSum = 0;
        bool localFinite = true, anyGrad = false;
        const int imageSize = model.config().imageSize;
        for (int a = 0; a < accumulate; ++a) {
            const auto shard = std::uint64_t((step * shape.worldSize + shape.rank) * accumulate + a);
            const auto batch = sampler.batch(std::int64_t(shard));
            std::mt19937_64 augRng(mix(shape.seed, shard, 1));
            std::vector<std::int64_t> labels;
            torch::Tensor x;
            if (o.augment.enabled) {
                std::vector<cv::Mat> crops;
                crops.reserve(batch.size());
                for (auto i : batch)
                    crops.push_back(image::augment(images.resized[i], imageSize, o.augment, augRng));
                x = image::normalizeSquares(crops, input);
            } else {
                std::vector<torch::Tensor> items;
                for (auto i : batch)
                    items.push_back(images.prepared[i]);
                x = torch::stack(items);
            }
            for (auto i : batch)
                labels.push_back(classIds[i]);
            out.images += batch.size();
            auto y = torch::tensor(labels, torch::kLong);
            auto gen = at::make_generator<at::CPUGeneratorImpl>(mix(shape.seed, shard, 2));
            torch::Tensor emb;
            {
                AutocastScope autocast(shape.precision);
                emb = model.embed(x);
            }
            auto r = tripletLoss(emb.to(torch::kFloat32), y, lossOptions, gen);
            // Alone, a cancel abandons the step here. Ranks must stop at the same step, so
            // there the request travels with the gradients and all stop together.
            if (!dist && cancelled())
                return abandon(End::Abandoned);
            const double loss = r.loss.item<double>();
            s.found += r.found;
            s.active += r.active;
            s.meanPositive += r.meanPositive / accumulate;
            s.meanNegative += r.meanNegative / accumulate;
            out.meanPairwise += r.meanPairwise / accumulate;
            if (a == 0)
                s.hardest = hardestTriplets(emb.detach().to(torch::kFloat32), labels, batch, lossOptions);
            if (!std::isfinite(loss)) {
                localFinite = false;
                continue;
            }
            lossSum += loss;
            if (r.loss.requires_grad()) {
                if (!anyGrad)
                    phase(TrainPhase::Backward, step + 1);
                anyGrad = true;
                r.loss.backward(); // accumulates over the shards; divided by their count below
                if (!dist && cancelled())
                    return abandon(End::Abandoned);
            }
        }
        s.activeFraction = s.found > 0 ? double(s.active) / double(s.found) : 0.0;
        bool finite = localFinite;
        double shards = accumulate;
        if (dist) {
            // One all-reduce per step: every gradient (zeros where a parameter got none), then
            // this rank's loss, whether it was non-finite, whether it computed gradients and
            // whether it was asked to stop.
            std::vector<torch::Tensor> flat;
            flat.reserve(opt.tensors.size() + 1);
            for (auto& p : opt.tensors)
                flat.push_back(p.grad().defined() ? p.grad().detach().reshape(-1)
                                                  : torch::zeros({p.numel()}, p.options().requires_grad(false)));
            flat.push_back(torch::tensor({float(localFinite ? lossSum : 0.0), localFinite ? 0.0f : 1.0f,
                                          anyGrad ? 1.0f : 0.0f, cancelled() ? 1.0f : 0.0f},
                                         torch::kFloat32));
            auto buffer = torch::cat(flat).to(torch::kFloat32).contiguous();
            try {
                dist->allreduceSum(buffer);
            } catch (const RankLost& e) {
                out.message = e.what();
                return abandon(End::RankLost);
            }
            const auto n = buffer.numel();
            auto tail = buffer.slice(0, n - 4).contiguous();
            const auto* t = tail.data_ptr<float>();
            if (t[3] > 0)
                return abandon(End::StoppedByRanks);
            shards = double(accumulate) * shape.worldSize;
            finite = t[1] == 0;
            anyGrad = t[2] > 0;
            lossSum = t[0];
            if (finite && anyGrad) {
                torch::NoGradGuard noGrad;
                std::int64_t offset = 0;
                for (auto& p : opt.tensors) {
                    if (p.grad().defined())
                        p.mutable_grad().copy_(buffer.slice(0, offset, offset + p.numel()).view_as(p));
                    offset += p.numel();
                }
            }
        }
        s.loss = finite ? lossSum / shards : std::numeric_limits<double>::quiet_NaN();
        if (finite && anyGrad) {
            if (shards > 1) {
                torch::NoGradGuard noGrad;
                for (auto& p : opt.tensors)
                    if (p.grad().defined())
                        p.mutable_grad().div_(shards);
            }
            double norm = 0;
            if (o.gradClipNorm > 0) {
                norm = torch::nn::utils::clip_grad_norm_(opt.tensors, o.gradClipNorm);
            } else {
                for (auto& p : opt.tensors)
                    if (p.grad().defined())
                        norm += p.grad().pow(2).sum().item<double>();
            }
            finite = std::isfinite(norm);
            if (finite) {
                phase(TrainPhase::OptimizerStep, step + 1);
                std::lock_guard lock(weightsMutex);
                optimizer.step();
            }
        }
        s.skipped = !finite;
        return out;
    }
};

} // namespace

Trainer::Trainer(TrainOptions options) : m_options(std::move(options)), m_impl(std::make_unique<Impl>()) {}
Trainer::~Trainer() = default;

void Trainer::requestPause() { m_paused.store(true); }

void Trainer::resume() {
    {
        std::lock_guard lock(m_pauseMutex);
        m_paused.store(false);
    }
    m_pauseCv.notify_all();
}

std::map<std::string, at::Tensor> Trainer::snapshotState() const {
    std::map<std::string, at::Tensor> out;
    std::lock_guard lock(m_impl->weightsMutex);
    if (!m_impl->model)
        return out;
    torch::NoGradGuard noGrad;
    for (const auto& item : m_impl->model->named_parameters())
        out[item.key()] = item.value().detach().to(torch::kCPU, torch::kFloat32).clone();
    return out;
}

TrainResult Trainer::run(TrainerListener* listener) {
    const auto& o = m_options;
    TrainResult result;
    const auto runStart = Clock::now();
    auto warn = [&](const std::string& message) {
        result.warnings.push_back(message);
        if (listener)
            listener->onWarning(message);
    };
    ProgressFn progress;
    if (listener)
        progress = [listener](long long done, long long total, const Stage& stage) {
            listener->onProgress(done, total, stage);
        };
    auto cancelled = [&] { return o.cancel && o.cancel->cancelled(); };
    // Before the first step a cancel ends the run with nothing written.
    auto cancelledBeforeTraining = [&](const char* where) {
        result.cancelled = true;
        result.message = std::string("cancelled while ") + where;
        result.seconds = std::chrono::duration<double>(Clock::now() - runStart).count();
        return result;
    };
    auto phase = [&](TrainPhase p, std::int64_t step) {
        if (o.phaseHook)
            o.phaseHook(p, step);
    };
    if (o.epochs < 1)
        throw Error("epochs must be at least 1");

    // ---- Data, and the model to start from (fresh or resumed).
    TrainingData data;
    try {
        data = loadTrainingData(o, progress);
    } catch (const Cancelled&) {
        return cancelledBeforeTraining("scanning");
    }
    result.classes = data.classNames.size();
    // Validated against the training split (throws with what to add).
    data::PkSampler sampler(data.classIds, data.train, o.pk, o.seed, data.classNames);
    StartPoint start = loadStartPoint(o);
    if (o.resume)
        sampler = data::PkSampler(data.classIds, data.train, o.pk, start.seed, data.classNames);
    for (const auto& w : start.loaded.warnings)
        warn(w);
    auto& model = *start.loaded.model;
    {
        std::lock_guard lock(m_impl->weightsMutex);
        m_impl->model = start.loaded.model;
    }

    // ---- The run's shape. Several processes: rank 0 alone validates and writes
    // checkpoints; every step consumes worldSize × accumulate P×K batches.
    RunShape shape;
    shape.precision = resolvePrecision(o.precision);
    Optimization opt = makeOptimization(model, o, start);
    shape.dist = o.distributed.get();
    shape.rank = shape.dist ? shape.dist->rank() : 0;
    shape.worldSize = shape.dist ? shape.dist->worldSize() : 1;
    shape.accumulate = std::max(1, o.accumulate);
    shape.seed = start.seed;
    result.rank = shape.rank;
    result.worldSize = shape.worldSize;
    shape.batchSize = std::int64_t(sampler.batchSize()) * shape.worldSize * shape.accumulate;
    shape.stepsPerEpoch = o.stepsPerEpoch > 0
                              ? o.stepsPerEpoch
                              : std::max<std::int64_t>(1, (std::int64_t(data.train.size()) + shape.batchSize - 1) /
                                                              shape.batchSize);
    shape.totalSteps = shape.stepsPerEpoch * o.epochs;
    ProcessGroup* const dist = shape.dist;
    const std::int64_t totalSteps = shape.totalSteps, stepsPerEpoch = shape.stepsPerEpoch;
    result.totalSteps = totalSteps;
    result.trainImages = data.train.size();
    result.validationImages = data.validation.size();
    if (start.step >= totalSteps) {
        result.steps = start.step;
        result.message = "the checkpoint is already at step " + std::to_string(start.step) + " of " +
                         std::to_string(totalSteps) + "; raise --epochs to train further";
        return result;
    }

    // ---- Preload; images that cannot be read leave the run.
    const image::PreprocessOptions input = model.config().inputOptions();
    if (shape.rank != 0)
        data.validation.clear(); // only rank 0 validates
    auto images = preloadImages(
        *data.dataset, data.train, data.validation, input, o.augment.enabled, progress,
        [&] { phase(TrainPhase::LoadingImage, 0); }, cancelled, warn);
    if (!images)
        return cancelledBeforeTraining("loading images");
    if (!images->broken.empty()) {
        dropUnreadable(data, *images);
        result.trainImages = data.train.size();
        result.validationImages = data.validation.size();
        sampler = data::PkSampler(data.classIds, data.train, o.pk, shape.seed, data.classNames);
    }

    // ---- Validation.
    const Validator validator = takeValidator(data, *images);
    // Throws Cancelled within a batch of a cancel. Ranks must stop at the same step, so with
    // several processes rank 0's validation runs to its end and the cancel travels with the
    // next step's gradients instead.
    auto validate = [&]() -> RetrievalMetrics {
        return validator.run(model, shape.precision, progress, dist ? nullptr : o.cancel);
    };
    if (dist)
        agreeAcrossRanks(*dist,
                         {
                             {"training images", double(data.train.size())},
                             {"classes", double(data.classNames.size())},
                             {"trainable parameters", double(opt.trainable.size())},
                             {"steps", double(totalSteps)},
                             {"start step", double(start.step)},
                             {"batch size", double(shape.batchSize)},
                             {"seed", double(shape.seed % (1ULL << 52))},
                         },
                         opt);
    const bool canValidate = validator.canValidate();
    if (canValidate) {
        try {
            result.initialValidation = validate();
        } catch (const Cancelled&) {
            return cancelledBeforeTraining("validating");
        }
        if (listener) {
            EpochStats e;
            e.epoch = int(start.step / stepsPerEpoch);
            e.epochs = o.epochs;
            e.validation = result.initialValidation;
            e.validated = true;
            listener->onEpoch(e);
        }
    } else if (shape.rank == 0) {
        warn("fewer than 2 validation images: validation metrics are not computed");
    }

    // ---- Checkpointing: rank 0, once per step.
    std::int64_t lastCheckpointStep = -1;
    auto writeCheckpoint = [&](std::int64_t step, const RetrievalMetrics* metrics) {
        if (o.checkpointPath.empty() || step == lastCheckpointStep || shape.rank != 0)
            return;
        phase(TrainPhase::WritingCheckpoint, step);
        report(progress, step, totalSteps, StageKind::Checkpoint);
        writeTrainingCheckpoint(o, shape, step, model, opt, data.classNames, metrics, m_impl->weightsMutex);
        result.checkpointWritten = true;
        lastCheckpointStep = step;
    };

    // ---- The loop.
    TripletLossOptions lossOptions;
    lossOptions.miner = parseMiner(o.miner);
    lossOptions.distance = parseDistance(o.distance);
    lossOptions.margin = o.margin;
    lossOptions.softMargin = o.softMargin;
    const StepRunner stepper{o,         shape, sampler, *images,     data.classIds,
                             input,     model, opt,     lossOptions, m_impl->weightsMutex,
                             cancelled, phase};
    CollapseMonitor collapse(o);

    model.train();
    int badInARow = 0;
    double epochLoss = 0;
    int epochLossCount = 0;
    double trainSeconds = 0;
    std::int64_t trainSteps = 0;
    RetrievalMetrics lastMetrics = result.initialValidation;
    bool haveMetrics = canValidate;
    std::int64_t step = start.step;
    // Ends the run after `completed` steps with a checkpoint of exactly those steps.
    auto stopAt = [&](std::int64_t completed, bool byCancel) {
        result.cancelled = byCancel;
        result.steps = completed;
        result.message = result.cancelled ? "cancelled at step " + std::to_string(completed)
                                          : "stopped at step " + std::to_string(completed) + " as requested";
        writeCheckpoint(completed, haveMetrics ? &lastMetrics : nullptr);
    };
    for (; step < totalSteps; ++step) {
        if (m_paused.load()) {
            report(progress, step, totalSteps, StageKind::Paused);
            std::unique_lock lock(m_pauseMutex);
            m_waiting.store(true);
            while (m_paused.load() && !cancelled())
                m_pauseCv.wait_for(lock, std::chrono::milliseconds(100));
            m_waiting.store(false);
        }
        if ((!dist && cancelled()) || (o.stopAfterSteps > 0 && step >= o.stopAfterSteps)) {
            stopAt(step, !dist && cancelled());
            break;
        }
        const auto t0 = Clock::now();
        auto outcome = stepper.run(step);
        StepStats& s = outcome.stats;
        if (outcome.end == StepRunner::End::Abandoned || outcome.end == StepRunner::End::StoppedByRanks) {
            stopAt(step, true);
            break;
        }
        if (outcome.end == StepRunner::End::RankLost) {
            result.rankLost = true;
            result.steps = step;
            result.message = outcome.message;
            if (shape.rank == 0 && !o.checkpointPath.empty())
                result.message += " The checkpoint holds the " + std::to_string(step) +
                                  " steps completed by all ranks; continue with --resume.";
            writeCheckpoint(step, haveMetrics ? &lastMetrics : nullptr);
            break;
        }
        if (s.skipped) {
            ++result.skippedSteps;
            ++badInARow;
            if (badInARow >= o.maxBadSteps) {
                result.stoppedNonFinite = true;
                result.steps = step + 1;
                std::ostringstream msg;
                msg << "stopped: " << badInARow << " steps in a row had a non-finite loss or gradient (step "
                    << step + 1 << ", learning rate " << s.learningRate << "). The learning rate is probably too high; "
                    << "try --lr " << o.learningRate / 10 << ". The last good checkpoint was left as it was.";
                result.message = msg.str();
                if (listener)
                    listener->onStep(s);
                break;
            }
        } else {
            badInARow = 0;
            epochLoss += s.loss;
            ++epochLossCount;
        }
        for (const auto& w : collapse.observe(outcome.meanPairwise, s))
            warn(w);

        const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
        trainSeconds += seconds;
        ++trainSteps;
        s.imagesPerSecond = seconds > 0 ? double(outcome.images) * shape.worldSize / seconds : 0;
        result.steps = step + 1;
        if (listener)
            listener->onStep(s);
        report(progress, step + 1, totalSteps, StageKind::Training);

        const bool epochEnd = (step + 1) % stepsPerEpoch == 0;
        const bool last = step + 1 == totalSteps;
        if (epochEnd) {
            EpochStats e;
            e.epoch = int((step + 1) / stepsPerEpoch);
            e.epochs = o.epochs;
            e.meanLoss = epochLossCount ? epochLoss / epochLossCount : 0;
            epochLoss = 0;
            epochLossCount = 0;
            if (canValidate && (last || (o.validateEveryEpochs > 0 && e.epoch % o.validateEveryEpochs == 0))) {
                try {
                    e.validation = lastMetrics = validate();
                } catch (const Cancelled&) { // the step landed: keep it, with the last metrics
                    result.epochsCompleted = e.epoch;
                    stopAt(step + 1, true);
                    break;
                }
                e.validated = haveMetrics = true;
            }
            result.epochsCompleted = e.epoch;
            if (listener)
                listener->onEpoch(e);
        }
        if (o.checkpointEverySteps > 0 && (step + 1) % o.checkpointEverySteps == 0 && !last)
            writeCheckpoint(step + 1, haveMetrics ? &lastMetrics : nullptr);
    }
    if (!result.stoppedNonFinite && !result.cancelled && result.message.empty()) {
        bool scored = haveMetrics;
        if (canValidate && !haveMetrics) {
            try {
                lastMetrics = validate();
                scored = true;
            } catch (const Cancelled&) { // every step landed; the checkpoint goes without metrics
                result.cancelled = true;
                result.message = "cancelled while validating after step " + std::to_string(step);
            }
        }
        writeCheckpoint(step, scored ? &lastMetrics : nullptr);
    }
    if (result.skippedSteps > 0 && !result.stoppedNonFinite)
        warn(std::to_string(result.skippedSteps) + " step(s) were skipped because of a non-finite loss or gradient");
    result.finalValidation = lastMetrics;
    result.seconds = std::chrono::duration<double>(Clock::now() - runStart).count();
    result.stepsPerSecond = trainSeconds > 0 ? double(trainSteps) / trainSeconds : 0;
    model.eval();
    return result;
}

} // namespace vitrine::core::train
