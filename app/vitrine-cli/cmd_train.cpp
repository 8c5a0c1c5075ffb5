// vitrine-cli train: triplet-loss training from the command line, with a progress bar,
// Ctrl-C handling (stop after the current step, write a checkpoint) and --resume.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "app/vitrine-cli/commands.h"
#include "app/vitrine-cli/exit_codes.h"
#include "app/vitrine-cli/local_launch.h"
#include "app/vitrine-cli/progress.h"
#include "core/common/error.h"
#include "core/common/runtime.h"
#include "core/train/distributed.h"
#include "core/train/trainer.h"

namespace vitrine::cli {

namespace {

std::string duration(double s) {
    if (!(s >= 0) || s > 1e7)
        return "?";
    const long t = long(s + 0.5);
    std::ostringstream o;
    if (t >= 3600)
        o << t / 3600 << "h" << std::setw(2) << std::setfill('0') << (t % 3600) / 60 << "m";
    else if (t >= 60)
        o << t / 60 << "m" << std::setw(2) << std::setfill('0') << t % 60 << "s";
    else
        o << t << "s";
    return o.str();
}

nlohmann::json metricsJson(const core::train::RetrievalMetrics& m) {
    auto j = core::train::retrievalMetricsJson(m);
    j["images"] = m.rows;
    return j;
}

class CliListener : public core::train::TrainerListener {
public:
    /// `quiet`: ranks above 0 of a group report warnings only (rank 0 shows the progress).
    CliListener(bool json, bool quiet) : m_json(json), m_quiet(quiet), m_start(std::chrono::steady_clock::now()) {}

    void onProgress(long long done, long long total, const core::Stage& stage) override {
        if (m_json || m_quiet)
            return;
        switch (stage.kind) {
        case core::StageKind::Training:
        case core::StageKind::Paused:
        case core::StageKind::Checkpoint: return;      // onStep's line shows the run
        default: m_printer.update(done, total, stage); // scanning, loading, validating
        }
    }

    void onStep(const core::train::StepStats& s) override {
        if (m_quiet)
            return;
        if (m_firstStep < 0) {
            m_firstStep = s.step - 1;
            m_loopStart = std::chrono::steady_clock::now();
        }
        if (m_json) {
            std::cout << nlohmann::json{{"event", "step"},
                                        {"step", s.step},
                                        {"total_steps", s.totalSteps},
                                        {"epoch", s.epoch},
                                        {"loss", s.loss},
                                        {"found", s.found},
                                        {"active", s.active},
                                        {"active_fraction", s.activeFraction},
                                        {"mean_positive", s.meanPositive},
                                        {"mean_negative", s.meanNegative},
                                        {"lr", s.learningRate},
                                        {"images_per_s", s.imagesPerSecond},
                                        {"skipped", s.skipped}}
                             .dump()
                      << '\n'
                      << std::flush;
            return;
        }
        const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - m_loopStart).count();
        const double perStep = elapsed / double(std::max<std::int64_t>(1, s.step - m_firstStep));
        const double eta = perStep * double(s.totalSteps - s.step);
        constexpr int kWidth = 24;
        const int filled = int(kWidth * double(s.step) / double(std::max<std::int64_t>(1, s.totalSteps)));
        std::ostringstream line;
        line << "\r[" << std::string(std::size_t(filled), '#') << std::string(std::size_t(kWidth - filled), '.') << "] "
             << s.step << "/" << s.totalSteps << " ep " << s.epoch << std::fixed << std::setprecision(4) << " loss "
             << s.loss << std::setprecision(0) << " active " << 100 * s.activeFraction << "%" << std::scientific
             << std::setprecision(1) << " lr " << s.learningRate << std::fixed << std::setprecision(1) << " "
             << s.imagesPerSecond << " img/s ETA " << duration(eta) << (s.skipped ? " (skipped: non-finite)" : "")
             << "   ";
        std::cerr << line.str() << std::flush;
    }

    void onEpoch(const core::train::EpochStats& e) override {
        if (m_quiet)
            return;
        if (m_json) {
            nlohmann::json j{{"event", "epoch"}, {"epoch", e.epoch}, {"epochs", e.epochs}, {"mean_loss", e.meanLoss}};
            if (e.validated)
                j["validation"] = metricsJson(e.validation);
            std::cout << j.dump() << '\n' << std::flush;
            return;
        }
        std::ostringstream line;
        line << std::fixed << std::setprecision(3);
        if (e.epoch == 0 && e.meanLoss == 0)
            line << "before training:";
        else
            line << "\nepoch " << e.epoch << "/" << e.epochs << ": mean loss " << std::setprecision(4) << e.meanLoss
                 << std::setprecision(3);
        if (e.validated)
            line << "  val P@1 " << e.validation.precisionAt1 << "  MAP@R " << e.validation.mapAtR << "  kNN "
                 << e.validation.knnAccuracy;
        std::cerr << line.str() << '\n';
    }

    void onWarning(const std::string& message) override {
        if (m_json)
            std::cout << nlohmann::json{{"event", "warning"}, {"message", message}}.dump() << '\n' << std::flush;
        else
            std::cerr << "\nwarning: " << message << '\n';
    }

private:
    bool m_json, m_quiet;
    ProgressPrinter m_printer{false};
    std::chrono::steady_clock::time_point m_start, m_loopStart;
    std::int64_t m_firstStep = -1;
};

} // namespace

void addTrainCommand(CLI::App& app, CliContext& ctx) {
    struct Opts {
        core::train::TrainOptions t;
        std::string data, out, precision = "auto";
        bool json = false, noAugment = false;
        int nproc = 0;
        PreprocessFlags pre;
    };
    auto opts = std::make_shared<Opts>();
    auto& t = opts->t;
    auto* cmd = app.add_subcommand("train", "Train the embedding with triplet loss on a folder-per-class data set");
    cmd->add_option("--data", opts->data, "Folder with one sub-folder per class")->required();
    cmd->add_option("--out", opts->out, "Checkpoint to write (.safetensors); --resume continues it")->required();
    cmd->add_option("--model", t.model, "Preset (vit-micro, vit-tiny-16, ...) or .safetensors to start from")
        ->capture_default_str();
    cmd->add_option("--epochs", t.epochs, "Epochs")->capture_default_str()->check(CLI::PositiveNumber);
    cmd->add_option("--steps-per-epoch", t.stepsPerEpoch, "Steps per epoch (0 = training images / batch size)");
    cmd->add_option("--classes-per-batch,-P", t.pk.classesPerBatch, "P: classes per batch")->capture_default_str();
    cmd->add_option("--images-per-class,-K", t.pk.imagesPerClass, "K: images per class")->capture_default_str();
    cmd->add_option("--miner", t.miner, "batch-all, batch-hard, semi-hard or random")
        ->capture_default_str()
        ->check(CLI::IsMember({"batch-all", "batch-hard", "semi-hard", "random"}));
    cmd->add_option("--margin", t.margin, "Triplet margin")->capture_default_str();
    cmd->add_flag("--soft-margin", t.softMargin, "softplus(d_ap - d_an) instead of a hinge with margin");
    cmd->add_option("--distance", t.distance, "euclidean or cosine")
        ->capture_default_str()
        ->check(CLI::IsMember({"euclidean", "cosine"}));
    cmd->add_option("--lr", t.learningRate, "Peak learning rate (AdamW)")->capture_default_str();
    cmd->add_option("--weight-decay", t.weightDecay, "AdamW weight decay")->capture_default_str();
    cmd->add_option("--warmup", t.warmupFraction, "Warm-up fraction of all steps")->capture_default_str();
    cmd->add_option("--image-size", t.imageSize, "Train at this image size (0 = the model's)");
    cmd->add_option("--pool", t.pool,
                    "Starting from a preset: what the head sees, the class token or the mean patch token")
        ->check(CLI::IsMember({"cls", "mean"}));
    cmd->add_flag("--freeze-backbone", t.freezeBackbone, "Train the projection head only");
    cmd->add_option("--trainable-blocks", t.trainableBlocks, "Fine-tune only the last N blocks (-1 = all)");
    cmd->add_option("--label-level", t.labelLevel, "Label level for nested folders (0 = top, -1 = deepest)")
        ->capture_default_str();
    cmd->add_option("--seed", t.seed, "Random seed")->capture_default_str();
    cmd->add_option("--precision", opts->precision,
                    "auto (bf16 autocast forward where the CPU has it natively and it measures faster), fp32 or bf16")
        ->capture_default_str()
        ->check(CLI::IsMember({"auto", "fp32", "bf16"}));
    cmd->add_flag("--no-augment", opts->noAugment, "Centre crops only (no random crop, flip, colour jitter)");
    cmd->add_option("--crop-scale", t.augment.minScale,
                    "Smallest area fraction of the random resized crop (larger = gentler; pretrained models "
                    "fine-tune better with 0.5 or more)")
        ->check(CLI::Range(0.05, 1.0))
        ->capture_default_str();
    cmd->add_option("--jitter", t.augment.brightness,
                    "Colour jitter strength (brightness, contrast and saturation factors from [1-x, 1+x]; 0 = off)")
        ->check(CLI::Range(0.0, 1.0))
        ->capture_default_str();
    cmd->add_option("--checkpoint-every", t.checkpointEverySteps, "Also write the checkpoint every N steps");
    cmd->add_option("--stop-after", t.stopAfterSteps, "Stop (with a checkpoint) at this global step");
    cmd->add_flag("--resume", t.resume, "Continue from --out's training state");
    cmd->add_option("--accumulate", t.accumulate,
                    "P×K batches per step, each mining its own triplets; the step follows their mean gradient")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    cmd->add_option("--nproc", opts->nproc,
                    "Train on N local processes (ranks on 127.0.0.1, gradients averaged each step, each rank its "
                    "own P×K batches); without it, MASTER_ADDR, MASTER_PORT, WORLD_SIZE and RANK (as torchrun "
                    "sets them) make this process one rank of a group")
        ->check(CLI::PositiveNumber);
    cmd->add_flag("--json", opts->json, "JSON lines: step, epoch, warning and a final summary event");
    addPreprocessFlags(cmd, opts->pre);
    cmd->callback([opts, &ctx] {
        auto& t = opts->t;
        const auto group = core::train::distributedFromEnvironment();
        if (group && opts->nproc > 0 && opts->nproc != group->worldSize)
            throw core::Error("--nproc " + std::to_string(opts->nproc) + " disagrees with WORLD_SIZE=" +
                              std::to_string(group->worldSize) + "; give one or the other");
        if (!group && opts->nproc > 1) {
            ctx.exitCode = launchLocalWorkers(opts->nproc);
            return;
        }
        if (group) {
            // Ranks sharing this machine share its cores (unless --threads says otherwise).
            if (const char* local = std::getenv("LOCAL_WORLD_SIZE"); local && ctx.threads == 0) {
                const int n = std::max(1, std::atoi(local));
                core::setComputeThreads(std::max(1, int(std::thread::hardware_concurrency()) / n));
            }
            t.distributed = core::train::connectProcessGroup(*group);
        }
        const bool quiet = group && group->rank != 0;
        t.dataDir = opts->data;
        t.checkpointPath = opts->out;
        t.precision = core::parsePrecision(opts->precision);
        t.preprocess = opts->pre.toJson();
        t.augment.enabled = !opts->noAugment;
        t.augment.contrast = t.augment.saturation = t.augment.brightness;
        // Ctrl-C (or --nproc's SIGTERM) ends the run with a checkpoint; run()'s scope holds
        // until the summary is out, so a signal as the run ends cannot cut the summary short.
        t.cancel = &ctx.cancelToken();
        core::train::TrainResult r;
        {
            core::train::Trainer trainer(t);
            CliListener listener(opts->json, quiet);
            r = trainer.run(&listener);
        }

        // A diverging run failed (1); a lost rank has its own status (exit_codes.h).
        ctx.exitCode = r.rankLost           ? ExitCode::RankLost
                       : r.stoppedNonFinite ? ExitCode::Failed
                       : r.cancelled        ? ExitCode::Cancelled
                                            : ExitCode::Done;
        if (opts->json) {
            nlohmann::json j{{"event", "done"},
                             {"steps", r.steps},
                             {"total_steps", r.totalSteps},
                             {"epochs_completed", r.epochsCompleted},
                             {"cancelled", r.cancelled},
                             {"stopped_non_finite", r.stoppedNonFinite},
                             {"rank_lost", r.rankLost},
                             {"rank", r.rank},
                             {"world_size", r.worldSize},
                             {"skipped_steps", r.skippedSteps},
                             {"message", r.message},
                             {"warnings", r.warnings},
                             {"initial_validation", metricsJson(r.initialValidation)},
                             {"final_validation", metricsJson(r.finalValidation)},
                             {"train_images", r.trainImages},
                             {"validation_images", r.validationImages},
                             {"classes", r.classes},
                             {"seconds", r.seconds},
                             {"steps_per_s", r.stepsPerSecond},
                             {"checkpoint", r.checkpointWritten ? opts->out : ""}};
            std::cout << j.dump() << '\n';
            return;
        }
        if (!quiet)
            std::cerr << '\n'; // ends the progress line
        if (!r.message.empty())
            std::cerr << r.message << '\n';
        if (quiet) { // rank 0 reports the run; the others only how far they got
            std::cout << "rank " << r.rank << " of " << r.worldSize << ": trained " << r.steps << "/" << r.totalSteps
                      << " steps\n";
            if (r.checkpointWritten)
                std::cout << "checkpoint: " << opts->out << '\n';
            return;
        }
        std::cout << std::fixed << std::setprecision(3) << "trained " << r.steps << "/" << r.totalSteps << " steps on "
                  << r.trainImages << " images (" << r.classes << " classes) in " << duration(r.seconds) << ", "
                  << std::setprecision(2) << r.stepsPerSecond << " steps/s"
                  << (r.skippedSteps ? ", " + std::to_string(r.skippedSteps) + " skipped" : "") << '\n'
                  << std::setprecision(3) << "validation (" << r.validationImages << " images)  P@1 "
                  << r.initialValidation.precisionAt1 << " -> " << r.finalValidation.precisionAt1 << "  MAP@R "
                  << r.initialValidation.mapAtR << " -> " << r.finalValidation.mapAtR << "  kNN "
                  << r.initialValidation.knnAccuracy << " -> " << r.finalValidation.knnAccuracy << '\n';
        if (r.checkpointWritten)
            std::cout << "checkpoint: " << opts->out << (r.cancelled ? " (continue with --resume)" : "") << '\n';
    });
}

} // namespace vitrine::cli
