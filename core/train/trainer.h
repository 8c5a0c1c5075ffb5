#pragma once
// Triplet-loss training of a ViT embedding on a folder-per-class data set.
//
// Intended usage (CLI or a GUI worker thread):
//   TrainOptions o;
//   o.dataDir = "photos"; o.model = "vit-micro"; o.checkpointPath = "run.safetensors";
//   Trainer trainer(o);
//   struct Ui : TrainerListener { void onStep(const StepStats& s) override { ... } } ui;
//   CancelToken stop; o.cancel = &stop;    // the one way to stop it (GUI Stop, Ctrl-C)
//   TrainResult r = trainer.run(&ui);      // blocks; call it on the worker thread
//   // from any other thread: trainer.requestPause(); trainer.resume(); stop.cancel();
//   //                        auto weights = trainer.snapshotState();   // for live views
//
// A run preloads and caches the decoded, resized images (small data sets, so steps are
// compute-bound), draws P×K batches, augments them, mines triplets, steps AdamW with a
// linear warm-up then cosine learning rate, validates every epoch on a stable 80/20 split
// and writes checkpoints atomically (every N steps, at the end, on cancel). A checkpoint
// carries the optimizer moments and the step, so `resume` continues the same curve.
// Includes ATen's Tensor only (not torch/torch.h).

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include "core/common/job.h"
#include "core/common/precision.h"
#include "core/data/pk_sampler.h"
#include "core/image/augment.h"
#include "core/train/metrics.h"

namespace vitrine::core::data {
class Dataset;
}

namespace vitrine::core::train {

class ProcessGroup; // distributed.h

/// Points inside a run, in order within a step, at which TrainOptions::phaseHook is called.
enum class TrainPhase {
    LoadingImage,      ///< before each image of the preload
    Forward,           ///< before the forward pass and loss of a step
    Backward,          ///< before the backward pass (only when the loss is finite)
    OptimizerStep,     ///< before the optimizer updates the weights
    WritingCheckpoint, ///< before a checkpoint is written
};

struct TrainOptions {
    std::filesystem::path dataDir;                ///< scanned when `dataset` is null
    std::shared_ptr<const data::Dataset> dataset; ///< optional: an already scanned set (GUI)
    int labelLevel = 0;                           ///< 0 = top folder (cat/dog), -1 = deepest
    double validationFraction = 0.2;              ///< stable split by data::isValidation

    std::string model = "vit-micro"; ///< preset name or .safetensors (see model::loadModel)
    int imageSize = 0;               ///< > 0: train at this size (positional embeddings resized)
    std::string pool;                ///< presets only: "cls" or "mean" head pooling ("" = preset's)
    nlohmann::json preprocess;       ///< overrides of the model's preprocessing (model::LoadOptions)
    bool freezeBackbone = false;     ///< train the projection head only
    int trainableBlocks = -1;        ///< fine-tune: the last N blocks (+ final norm, head); -1 = all

    int epochs = 10;
    int stepsPerEpoch = 0; ///< 0 = ceil(training images / (P×K × ranks × accumulate))
    data::PkOptions pk;    ///< P = 8, K = 4
    /// P×K batches per step, each mining its own triplets; the step follows the mean of
    /// their gradients (a larger batch in the same memory). Several processes multiply it:
    /// each of W ranks draws `accumulate` batches, so a step sees W × accumulate of them.
    int accumulate = 1;
    std::string miner = "batch-all"; ///< see triplet.h
    std::string distance = "euclidean";
    double margin = 0.2;
    bool softMargin = false;

    double learningRate = 3e-4;          ///< peak, after warm-up
    double weightDecay = 0.05;           ///< AdamW, on matrices only (not biases, norms, tokens)
    double warmupFraction = 0.1;         ///< of all steps, linear from ~0
    double minLearningRateFactor = 0.01; ///< cosine ends at this fraction of the peak
    double gradClipNorm = 1.0;           ///< 0 = off
    /// Forward under bf16 autocast where chosen (Auto: see core/common/precision.h); loss,
    /// gradients and weights stay float32.
    Precision precision = Precision::Auto;
    image::AugmentOptions augment;
    std::uint64_t seed = 0;

    std::filesystem::path checkpointPath; ///< empty = no checkpoints
    int checkpointEverySteps = 0;         ///< 0 = only at the end / on cancel
    bool resume = false;                  ///< continue from checkpointPath's training state
    int validateEveryEpochs = 1;          ///< 0 = only at the end
    int maxBadSteps = 5;                  ///< consecutive non-finite steps that stop the run
    /// > 0: stop (with a checkpoint) once the global step reaches this, without changing the
    /// schedule, as if cancelled there (for tests and time-boxed runs).
    std::int64_t stopAfterSteps = 0;

    /// Training on several processes (distributed.h); null = this process alone. Every rank
    /// runs the same options; the gradients are averaged over the ranks each step, only
    /// rank 0 validates and writes the checkpoint, and a cancel on any rank stops all of
    /// them at the same step. A rank that fails ends the others' runs with rankLost.
    std::shared_ptr<ProcessGroup> distributed;

    /// The one way to stop a run (core/common/job.h): cancel() it from any thread, as the
    /// GUI's Stop and the CLI's Ctrl-C do. It is polled while scanning and loading (per
    /// image), while validating (per batch), while paused, and within each step after the
    /// forward and after the backward pass. The run then returns (it does not throw) with
    /// TrainResult::cancelled and a checkpoint of exactly the steps it completed: a step in
    /// flight is abandoned, an optimizer update or a checkpoint write that has started
    /// completes. Cancelled before the first step (scanning, loading, the first validation),
    /// it writes nothing and the earlier checkpoint stays. With several processes a cancel
    /// travels with the next step's gradients, so all ranks stop at the same step.
    const CancelToken* cancel = nullptr;
    /// Called on the training thread on entering each phase (`step`: the 1-based step being
    /// computed, 0 while loading). Tests cancel the token from it to stop at an exact point.
    std::function<void(TrainPhase phase, std::int64_t step)> phaseHook;
};

/// One triplet of a batch, by data set sample index, for showing what the model gets wrong.
struct HardTriplet {
    std::int64_t anchor = -1, positive = -1, negative = -1; ///< data set sample indices
    double dPositive = 0, dNegative = 0;                    ///< distances in the loss's metric
    double margin = 0;
    bool violates() const { return dPositive + margin > dNegative; }
};

struct StepStats {
    std::int64_t step = 0; ///< 1-based, global (continues across resume)
    std::int64_t totalSteps = 0;
    int epoch = 0; ///< 1-based
    double loss = 0;
    std::int64_t found = 0, active = 0;
    double activeFraction = 0;
    double meanPositive = 0, meanNegative = 0; ///< mean distances in the batch
    double learningRate = 0;
    double imagesPerSecond = 0; ///< this step, including augmentation
    bool skipped = false;       ///< non-finite loss or gradient: no update was made
    /// The batch's hardest triplets (hardest positive and negative of the anchors with the
    /// largest violation), most violating first; at most 6.
    std::vector<HardTriplet> hardest;
};

struct EpochStats {
    int epoch = 0; ///< 1-based; 0 = before training
    int epochs = 0;
    double meanLoss = 0; ///< over this epoch's finite steps
    RetrievalMetrics validation;
    bool validated = false;
};

/// Callbacks from the training thread. Keep them quick; they run between steps.
class TrainerListener {
public:
    virtual ~TrainerListener() = default;
    /// The job contract's progress (core/common/job.h): Scanning (only without
    /// TrainOptions::dataset), LoadingImages, Validating per batch, Training after each step
    /// (after onStep), Paused on entering a pause, Checkpoint before each write.
    virtual void onProgress(long long done, long long total, const Stage& stage) {}
    virtual void onStep(const StepStats& stats) {}
    virtual void onEpoch(const EpochStats& stats) {}
    /// Something a person should know (collapse suspected, skipped steps, ...).
    virtual void onWarning(const std::string& message) {}
};

struct TrainResult {
    std::int64_t steps = 0; ///< global step reached
    std::int64_t totalSteps = 0;
    int epochsCompleted = 0;
    bool cancelled = false;
    bool stoppedNonFinite = false; ///< maxBadSteps non-finite steps in a row
    std::int64_t skippedSteps = 0;
    std::string message; ///< why it stopped early, for people
    std::vector<std::string> warnings;
    RetrievalMetrics initialValidation; ///< before the first step of this run
    RetrievalMetrics finalValidation;
    std::size_t trainImages = 0, validationImages = 0, classes = 0;
    double seconds = 0;
    double stepsPerSecond = 0; ///< training steps only (no validation/preload)
    bool checkpointWritten = false;
    /// Several processes: another rank exited or stopped answering (`message` says which);
    /// rank 0 wrote a checkpoint of the steps all ranks completed.
    bool rankLost = false;
    int rank = 0, worldSize = 1;
};

class Trainer {
public:
    explicit Trainer(TrainOptions options);
    ~Trainer();
    Trainer(const Trainer&) = delete;
    Trainer& operator=(const Trainer&) = delete;

    /// Runs to the end, to a cancel of TrainOptions::cancel or to a non-finite stop. Throws
    /// core::Error for unusable data (with what to add) or model files; never throws for
    /// cancellation.
    TrainResult run(TrainerListener* listener = nullptr);

    // Thread-safe controls.
    void requestPause();
    void resume();
    bool isPaused() const { return m_paused.load(); }
    /// True while the training thread is held by a pause (the step in flight has landed).
    bool isWaiting() const { return m_waiting.load(); }

    /// Deep copy (CPU float32) of the model's current parameters by timm name, taken
    /// between optimizer steps; empty before run() built the model. Cheap (a copy of
    /// the weights), never waits for more than one optimizer update.
    std::map<std::string, at::Tensor> snapshotState() const;

    const TrainOptions& options() const { return m_options; }

private:
    struct Impl;
    TrainOptions m_options;
    std::unique_ptr<Impl> m_impl;
    std::atomic<bool> m_paused{false};
    std::atomic<bool> m_waiting{false};
    mutable std::mutex m_pauseMutex;
    std::condition_variable m_pauseCv;
};

} // namespace vitrine::core::train
