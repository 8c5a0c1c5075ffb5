#include "core/train/trainer.h"

#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <set>
#include <sstream>

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

} // namespace

namespace {
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

    // ---- Data: labels, stable split, and the check that triplets are possible at all.
    std::shared_ptr<const data::Dataset> ds = o.dataset;
    if (!ds) {
        data::ScanOptions so;
        so.verifyImages = false; // every image is decoded below anyway
        try {
            ds = std::make_shared<data::Dataset>(data::scanFolder(o.dataDir, so, progress, o.cancel));
        } catch (const Cancelled&) {
            return cancelledBeforeTraining("scanning");
        }
    }
    const auto root = ds->root.empty() ? o.dataDir : ds->root;
    if (ds->samples.empty())
        throw Error(root, "no images found; put images in one sub-folder per class");
    const auto classNames = ds->classNames(o.labelLevel);
    const auto classIds = ds->classIds(o.labelLevel);
    auto [trainIdx, valIdx] = trainValidationSplit(*ds, o.labelLevel, o.validationFraction);
    result.classes = classNames.size();
    if (classNames.size() < 2)
        throw Error(root, "cannot train with triplets: they need images of at least 2 classes, but label level " +
                              std::to_string(o.labelLevel) + " has only " +
                              (classNames.empty() ? std::string("none") : "'" + classNames.front() + "'") +
                              ". Add a sub-folder of images of another class next to it, or choose another "
                              "--label-level.");
    // Validated against the training split (throws with what to add).
    data::PkSampler sampler(classIds, trainIdx, o.pk, o.seed, classNames);

    // ---- Model (fresh or resumed) and training state.
    model::LoadOptions lo;
    lo.imageSize = o.imageSize;
    lo.seed = o.seed; // a fresh preset's random initialisation follows --seed
    lo.pool = o.pool;
    lo.preprocess = o.preprocess;
    // Imported backbones have no projection head: give them one that starts as the identity,
    // so training starts from the pretrained features rather than a random projection.
    lo.addIdentityHead = true;
    std::int64_t startStep = 0;
    std::uint64_t seed = o.seed;
    model::TrainingState resumeState;
    std::map<std::string, torch::Tensor> resumeTensors;
    model::LoadedModel loaded;
    if (o.resume) {
        if (o.checkpointPath.empty() || !fs::exists(o.checkpointPath))
            throw Error(o.checkpointPath,
                        "nothing to resume from: the checkpoint does not exist; start without --resume");
        loaded = model::loadModel(o.checkpointPath.string(), lo);
        resumeState = model::parseTrainingState(loaded.metadata, o.checkpointPath);
        startStep = resumeState.step;
        seed = resumeState.seed.value_or(seed);
        resumeTensors = loaded.extraTensors;
        sampler = data::PkSampler(classIds, trainIdx, o.pk, seed, classNames);
    } else {
        loaded = model::loadModel(o.model, lo);
    }
    for (const auto& w : loaded.warnings)
        warn(w);
    auto& model = *loaded.model;
    {
        std::lock_guard lock(m_impl->weightsMutex);
        m_impl->model = loaded.model;
    }
    const int imageSize = model.config().imageSize;
    const Precision precision = resolvePrecision(o.precision);

    // Trainable parameters: head only, the last N blocks, or everything.
    const int depth = model.config().depth;
    std::vector<std::pair<std::string, torch::Tensor>> trainable;
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
        trainable.emplace_back(name, item.value());
        (item.value().dim() >= 2 && name != "pos_embed" && name != "cls_token" ? decay : noDecay)
            .push_back(item.value());
    }
    if (trainable.empty())
        throw Error("nothing to train: the model has no projection head to train on a frozen backbone; "
                    "use a model with embed_dim > 0 or do not freeze the backbone");
    std::vector<torch::optim::OptimizerParamGroup> groups;
    groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(
                                   torch::optim::AdamWOptions(o.learningRate).weight_decay(o.weightDecay)));
    groups.emplace_back(noDecay, std::make_unique<torch::optim::AdamWOptions>(
                                     torch::optim::AdamWOptions(o.learningRate).weight_decay(0.0)));
    torch::optim::AdamW optimizer(std::move(groups), torch::optim::AdamWOptions(o.learningRate));
    if (o.resume) {
        for (auto& [name, p] : trainable) {
            auto m1 = resumeTensors.find("optimizer/" + name + "/exp_avg");
            auto m2 = resumeTensors.find("optimizer/" + name + "/exp_avg_sq");
            if (m1 == resumeTensors.end() || m2 == resumeTensors.end())
                continue; // e.g. the previous run froze it; its moments start at zero
            auto st = std::make_unique<torch::optim::AdamWParamState>();
            const auto stepIt = resumeState.optimizerSteps.find(name);
            st->step(stepIt != resumeState.optimizerSteps.end() ? stepIt->second : startStep);
            st->exp_avg(m1->second.to(p.options()).clone());
            st->exp_avg_sq(m2->second.to(p.options()).clone());
            optimizer.state()[c10::guts::to_string(p.unsafeGetTensorImpl())] = std::move(st);
        }
    }

    // Several processes: rank 0 alone validates and writes checkpoints; every step consumes
    // worldSize × accumulate P×K batches (see the step loop).
    ProcessGroup* const dist = o.distributed.get();
    const int rank = dist ? dist->rank() : 0;
    const int worldSize = dist ? dist->worldSize() : 1;
    const int accumulate = std::max(1, o.accumulate);
    result.rank = rank;
    result.worldSize = worldSize;
    const std::int64_t batchSize = std::int64_t(sampler.batchSize()) * worldSize * accumulate;
    const std::int64_t stepsPerEpoch = o.stepsPerEpoch > 0
                                           ? o.stepsPerEpoch
                                           : std::max<std::int64_t>(1, (std::int64_t(trainIdx.size()) + batchSize - 1) /
                                                                           batchSize);
    const std::int64_t totalSteps = stepsPerEpoch * o.epochs;
    result.totalSteps = totalSteps;
    result.trainImages = trainIdx.size();
    result.validationImages = valIdx.size();
    if (startStep >= totalSteps) {
        result.steps = startStep;
        result.message = "the checkpoint is already at step " + std::to_string(startStep) + " of " +
                         std::to_string(totalSteps) + "; raise --epochs to train further";
        return result;
    }

    // ---- Preload: decode every image once. Validation images (and training images when
    // nothing is augmented) go through the model's own preprocessing, the function `embed`,
    // the Inspector and query-by-image use, so validation metrics are measured on the pixels
    // people export; augmentations crop from a slightly larger resized copy.
    const image::PreprocessOptions input = model.config().inputOptions();
    const int cacheSide = int(std::lround(input.resizeSize() * 1.15));
    std::vector<cv::Mat> cache(ds->samples.size());
    std::vector<torch::Tensor> prepared(ds->samples.size());
    if (rank != 0)
        valIdx.clear(); // only rank 0 validates
    std::vector<std::size_t> needed(trainIdx);
    needed.insert(needed.end(), valIdx.begin(), valIdx.end());
    const std::set<std::size_t> isVal(valIdx.begin(), valIdx.end());
    std::size_t done = 0;
    std::vector<std::size_t> broken;
    for (auto i : needed) {
        phase(TrainPhase::LoadingImage, 0);
        if (cancelled())
            return cancelledBeforeTraining("loading images");
        try {
            if (isVal.count(i) || !o.augment.enabled)
                prepared[i] = image::loadPreprocessed(ds->samples[i].path, input);
            else
                cache[i] = loadResized(ds->samples[i].path, cacheSide);
        } catch (const Error& e) {
            warn(std::string(e.what()) + "; skipped");
            broken.push_back(i);
        }
        report(progress, (long long)++done, (long long)needed.size(), StageKind::LoadingImages);
    }
    if (!broken.empty()) {
        auto drop = [&](std::vector<std::size_t>& v) {
            v.erase(std::remove_if(v.begin(), v.end(),
                                   [&](std::size_t i) { return cache[i].empty() && !prepared[i].defined(); }),
                    v.end());
        };
        drop(trainIdx);
        drop(valIdx);
        result.trainImages = trainIdx.size();
        result.validationImages = valIdx.size();
        sampler = data::PkSampler(classIds, trainIdx, o.pk, seed, classNames);
    }
    std::vector<torch::Tensor> valItems;
    std::vector<int> valLabels;
    for (auto i : valIdx) {
        valItems.push_back(prepared[i]);
        valLabels.push_back(classIds[i]);
    }
    const Validator validator(valItems.empty() ? torch::Tensor() : torch::stack(valItems), std::move(valLabels));
    valItems.clear();
    for (auto i : valIdx)
        prepared[i] = torch::Tensor();
    // Throws Cancelled within a batch of a cancel. Ranks must stop at the same step, so with
    // several processes rank 0's validation runs to its end and the cancel travels with the
    // next step's gradients instead.
    auto validate = [&]() -> RetrievalMetrics {
        return validator.run(model, precision, progress, dist ? nullptr : o.cancel);
    };
    if (dist) {
        // Same data, model and schedule on every rank, or the batches and the gradients
        // would not add up; then rank 0's weights everywhere (DDP's start).
        const std::vector<std::pair<const char*, double>> facts = {
            {"training images", double(trainIdx.size())},
            {"classes", double(classNames.size())},
            {"trainable parameters", double(trainable.size())},
            {"steps", double(totalSteps)},
            {"start step", double(startStep)},
            {"batch size", double(batchSize)},
            {"seed", double(seed % (1ULL << 52))},
        };
        auto lo = torch::empty({std::int64_t(facts.size())}, torch::kFloat64);
        for (std::size_t i = 0; i < facts.size(); ++i)
            lo[std::int64_t(i)] = facts[i].second;
        auto hi = lo.clone();
        dist->allreduceMin(lo);
        dist->allreduceMax(hi);
        for (std::size_t i = 0; i < facts.size(); ++i)
            if (lo[std::int64_t(i)].item<double>() != hi[std::int64_t(i)].item<double>())
                throw Error("the " + std::to_string(worldSize) + " ranks disagree on the " + facts[i].first +
                            " (from " + std::to_string(std::llround(lo[std::int64_t(i)].item<double>())) + " to " +
                            std::to_string(std::llround(hi[std::int64_t(i)].item<double>())) +
                            "): start every rank on the same data set, model and options");
        std::vector<torch::Tensor> weights;
        for (auto& [name, p] : trainable)
            weights.push_back(p.detach());
        torch::NoGradGuard noGrad;
        dist->broadcastFromRank0(weights);
    }
    const bool canValidate = validator.canValidate();
    if (canValidate) {
        try {
            result.initialValidation = validate();
        } catch (const Cancelled&) {
            return cancelledBeforeTraining("validating");
        }
        if (listener) {
            EpochStats e;
            e.epoch = int(startStep / stepsPerEpoch);
            e.epochs = o.epochs;
            e.validation = result.initialValidation;
            e.validated = true;
            listener->onEpoch(e);
        }
    } else if (rank == 0) {
        warn("fewer than 2 validation images: validation metrics are not computed");
    }

    // ---- Checkpointing.
    std::int64_t lastCheckpointStep = -1;
    auto writeCheckpoint = [&](std::int64_t step, const RetrievalMetrics* metrics) {
        if (o.checkpointPath.empty() || step == lastCheckpointStep || rank != 0)
            return;
        phase(TrainPhase::WritingCheckpoint, step);
        report(progress, step, totalSteps, StageKind::Checkpoint);
        std::map<std::string, torch::Tensor> extras;
        nlohmann::json optimizerSteps = nlohmann::json::object();
        for (auto& [name, p] : trainable) {
            auto it = optimizer.state().find(c10::guts::to_string(p.unsafeGetTensorImpl()));
            if (it == optimizer.state().end())
                continue;
            auto& st = static_cast<torch::optim::AdamWParamState&>(*it->second);
            extras["optimizer/" + name + "/exp_avg"] = st.exp_avg().detach().cpu();
            extras["optimizer/" + name + "/exp_avg_sq"] = st.exp_avg_sq().detach().cpu();
            optimizerSteps[name] = st.step();
        }
        nlohmann::json training = {
            {"step", step},
            {"epoch", step / stepsPerEpoch},
            {"total_steps", totalSteps},
            {"steps_per_epoch", stepsPerEpoch},
            {"seed", seed},
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
            {"precision", precisionName(precision)},
            {"augment", o.augment.enabled},
            {"label_level", o.labelLevel},
            {"world_size", worldSize},
            {"accumulate", accumulate},
        };
        nlohmann::json meta = {{"training", training}, {"class_names", classNames}, {"label_level", o.labelLevel}};
        if (metrics)
            meta["validation"] = retrievalMetricsJson(*metrics, /*withCounts=*/false);
        std::lock_guard lock(m_impl->weightsMutex);
        model::saveCheckpoint(o.checkpointPath, model, meta, extras);
        result.checkpointWritten = true;
        lastCheckpointStep = step;
    };

    // ---- The loop.
    TripletLossOptions lossOptions;
    lossOptions.miner = parseMiner(o.miner);
    lossOptions.distance = parseDistance(o.distance);
    lossOptions.margin = o.margin;
    lossOptions.softMargin = o.softMargin;
    std::vector<torch::Tensor> trainableTensors;
    for (auto& [n, p] : trainable)
        trainableTensors.push_back(p);

    model.train();
    int badInARow = 0;
    int collapseSteps = 0, saturatedSteps = 0;
    bool warnedCollapse = false, warnedSaturated = false;
    double epochLoss = 0;
    int epochLossCount = 0;
    double trainSeconds = 0;
    std::int64_t trainSteps = 0;
    RetrievalMetrics lastMetrics = result.initialValidation;
    bool haveMetrics = canValidate;
    std::int64_t step = startStep;
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
        const double lr = learningRateAt(o, step, totalSteps);
        for (auto& g : optimizer.param_groups())
            static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
        optimizer.zero_grad();
        phase(TrainPhase::Forward, step + 1);
        StepStats s;
        s.step = step + 1;
        s.totalSteps = totalSteps;
        s.epoch = int(step / stepsPerEpoch) + 1;
        s.learningRate = lr;
        // The step's shards: `accumulate` P×K batches on each rank, numbered across the ranks
        // so that W ranks draw exactly the batches one process with W × accumulate would.
        // Each shard mines its own triplets; the step's gradient is the mean of the shards'.
        double lossSum = 0, meanPairwise = 0;
        bool localFinite = true, anyGrad = false, abandoned = false;
        std::size_t stepImages = 0;
        for (int a = 0; a < accumulate; ++a) {
            const auto shard = std::uint64_t((step * worldSize + rank) * accumulate + a);
            const auto batch = sampler.batch(std::int64_t(shard));
            std::mt19937_64 augRng(mix(seed, shard, 1));
            std::vector<std::int64_t> labels;
            torch::Tensor x;
            if (o.augment.enabled) {
                std::vector<cv::Mat> images;
                images.reserve(batch.size());
                for (auto i : batch)
                    images.push_back(image::augment(cache[i], imageSize, o.augment, augRng));
                x = image::normalizeSquares(images, input);
            } else {
                std::vector<torch::Tensor> items;
                for (auto i : batch)
                    items.push_back(prepared[i]);
                x = torch::stack(items);
            }
            for (auto i : batch)
                labels.push_back(classIds[i]);
            stepImages += batch.size();
            auto y = torch::tensor(labels, torch::kLong);
            auto gen = at::make_generator<at::CPUGeneratorImpl>(mix(seed, shard, 2));
            torch::Tensor emb;
            {
                AutocastScope autocast(precision);
                emb = model.embed(x);
            }
            auto r = tripletLoss(emb.to(torch::kFloat32), y, lossOptions, gen);
            // Alone, a cancel abandons the step here. Ranks must stop at the same step, so
            // there the request travels with the gradients and all stop together.
            if (!dist && cancelled()) {
                abandoned = true;
                break;
            }
            const double loss = r.loss.item<double>();
            s.found += r.found;
            s.active += r.active;
            s.meanPositive += r.meanPositive / accumulate;
            s.meanNegative += r.meanNegative / accumulate;
            meanPairwise += r.meanPairwise / accumulate;
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
                if (!dist && cancelled()) {
                    abandoned = true;
                    break;
                }
            }
        }
        if (abandoned) { // the weights are still those of `step` steps
            optimizer.zero_grad();
            stopAt(step, true);
            break;
        }
        s.activeFraction = s.found > 0 ? double(s.active) / double(s.found) : 0.0;
        bool finite = localFinite;
        double shards = accumulate;
        if (dist) {
            // One all-reduce per step: every gradient (zeros where a parameter got none), then
            // this rank's loss, whether it was non-finite, whether it computed gradients and
            // whether it was asked to stop.
            std::vector<torch::Tensor> flat;
            flat.reserve(trainableTensors.size() + 1);
            for (auto& p : trainableTensors)
                flat.push_back(p.grad().defined() ? p.grad().detach().reshape(-1)
                                                  : torch::zeros({p.numel()}, p.options().requires_grad(false)));
            flat.push_back(torch::tensor({float(localFinite ? lossSum : 0.0), localFinite ? 0.0f : 1.0f,
                                          anyGrad ? 1.0f : 0.0f, cancelled() ? 1.0f : 0.0f},
                                         torch::kFloat32));
            auto buffer = torch::cat(flat).to(torch::kFloat32).contiguous();
            try {
                dist->allreduceSum(buffer);
            } catch (const RankLost& e) {
                optimizer.zero_grad();
                result.rankLost = true;
                result.steps = step;
                result.message = e.what();
                if (rank == 0 && !o.checkpointPath.empty())
                    result.message += " The checkpoint holds the " + std::to_string(step) +
                                      " steps completed by all ranks; continue with --resume.";
                writeCheckpoint(step, haveMetrics ? &lastMetrics : nullptr);
                break;
            }
            const auto n = buffer.numel();
            auto tail = buffer.slice(0, n - 4).contiguous();
            const auto* t = tail.data_ptr<float>();
            if (t[3] > 0) {
                optimizer.zero_grad();
                stopAt(step, true);
                break;
            }
            shards = double(accumulate) * worldSize;
            finite = t[1] == 0;
            anyGrad = t[2] > 0;
            lossSum = t[0];
            if (finite && anyGrad) {
                torch::NoGradGuard noGrad;
                std::int64_t offset = 0;
                for (auto& p : trainableTensors) {
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
                for (auto& p : trainableTensors)
                    if (p.grad().defined())
                        p.mutable_grad().div_(shards);
            }
            double norm = 0;
            if (o.gradClipNorm > 0) {
                norm = torch::nn::utils::clip_grad_norm_(trainableTensors, o.gradClipNorm);
            } else {
                for (auto& p : trainableTensors)
                    if (p.grad().defined())
                        norm += p.grad().pow(2).sum().item<double>();
            }
            finite = std::isfinite(norm);
            if (finite) {
                phase(TrainPhase::OptimizerStep, step + 1);
                std::lock_guard lock(m_impl->weightsMutex);
                optimizer.step();
            }
        }
        s.skipped = !finite;
        if (!finite) {
            ++result.skippedSteps;
            ++badInARow;
            if (badInARow >= o.maxBadSteps) {
                result.stoppedNonFinite = true;
                result.steps = step + 1;
                std::ostringstream msg;
                msg << "stopped: " << badInARow << " steps in a row had a non-finite loss or gradient (step "
                    << step + 1 << ", learning rate " << lr << "). The learning rate is probably too high; "
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

        // Collapse: every embedding at the same point, or every triplet stuck at the margin.
        collapseSteps = meanPairwise < 0.05 ? collapseSteps + 1 : 0;
        saturatedSteps = (!o.softMargin && s.found > 0 && s.activeFraction > 0.95 &&
                          std::abs(s.loss - o.margin) < 0.1 * std::max(o.margin, 1e-3))
                             ? saturatedSteps + 1
                             : 0;
        if (collapseSteps >= 20 && !warnedCollapse) {
            warnedCollapse = true;
            warn("embeddings collapsed: the mean distance between images has been below 0.05 for 20 steps. "
                 "Lower the learning rate or use --miner semi-hard / batch-all.");
        }
        if (saturatedSteps >= 30 && !warnedSaturated) {
            warnedSaturated = true;
            warn("possible collapse: for 30 steps nearly all triplets were active with a loss equal to the "
                 "margin. Lower the learning rate, or try --miner semi-hard.");
        }

        const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
        trainSeconds += seconds;
        ++trainSteps;
        s.imagesPerSecond = seconds > 0 ? double(stepImages) * worldSize / seconds : 0;
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
