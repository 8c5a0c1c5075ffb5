#include "ui/training_controller.h"

#include <QCoreApplication>
#include <QDateTime>
#include <QDir>
#include <QStandardPaths>
#include <QThread>

#include <filesystem>
#include <mutex>

#include <ATen/ATen.h>

#include "core/data/dataset.h"
#include "core/model/vit_config.h"
#include "core/train/trainer.h"
#include "ui/dataset_model.h"
#include "ui/job_runner.h"
#include "ui/workspace.h"

namespace vitrine::ui {
namespace fs = std::filesystem;

/// The trainer and its settings for one run; shared with the worker thread.
struct TrainingController::Run {
    std::unique_ptr<core::train::Trainer> trainer;
    /// The run's one stop: the trainer's options and the runner's job share it.
    std::shared_ptr<core::CancelToken> cancel = std::make_shared<core::CancelToken>();
    QString spec;
    int imageSize = 0;
    int liveEvery = 10;
    fs::path dir;
    fs::path latest;
    bool checkpointPending = false;
    QStringList paths; ///< sample index -> image path, as the run's data set had them
};

TrainingController::TrainingController(TrainingPanel* panel, DatasetModel* dataset, Workspace* workspace,
                                       QObject* parent)
    : QObject(parent), m_panel(panel), m_dataset(dataset), m_workspace(workspace),
      m_runner(new JobRunner(tr("Training"), this)) {
    connect(panel, &TrainingPanel::startRequested, this, &TrainingController::start);
    connect(panel, &TrainingPanel::pauseRequested, this, &TrainingController::pause);
    connect(panel, &TrainingPanel::resumeRequested, this, &TrainingController::resume);
    connect(panel, &TrainingPanel::stopRequested, this, &TrainingController::stop);
    connect(m_runner, &JobRunner::failed, this, [this](const QString& message) {
        m_panel->addWarning(message);
        Q_EMIT finished(message);
    });
    connect(m_runner, &JobRunner::idle, this, [this] {
        m_stopping = false;
        m_panel->setRunning(false, false);
        Q_EMIT idle();
    });
}

TrainingController::~TrainingController() {
    m_runner->cancel(); // the runner, a child, joins its thread after this
}

QString TrainingController::runsDirectory() {
    QString base = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation);
    if (base.isEmpty())
        base = QDir::homePath() + QStringLiteral("/.local/share/Vitrine");
    return base + QStringLiteral("/runs");
}

bool TrainingController::running() const { return m_runner->busy(); }
bool TrainingController::paused() const { return m_run && m_run->trainer && m_run->trainer->isPaused(); }
bool TrainingController::holding() const { return m_run && m_run->trainer && m_run->trainer->isWaiting(); }

void TrainingController::start() {
    if (m_runner->busy())
        return;
    const auto& ds = m_dataset->dataset();
    if (ds.samples.empty()) {
        m_panel->addWarning(tr("Load a data set first (File → Open Folder, or drop a folder on the window)."));
        return;
    }
    const TrainingSettings s = m_panel->settings();
    auto run = std::make_shared<Run>();
    run->spec = s.model;
    run->imageSize = s.imageSize;
    run->liveEvery = std::max(1, s.liveEverySteps);
    const QString dir = runsDirectory() + QStringLiteral("/") +
                        QDateTime::currentDateTime().toString(QStringLiteral("yyyyMMdd-HHmmss"));
    QDir().mkpath(dir);
    run->dir = dir.toStdString();
    run->latest = run->dir / "latest.safetensors";

    core::train::TrainOptions o;
    o.dataset = std::make_shared<const core::data::Dataset>(ds);
    for (const auto& sample : ds.samples)
        run->paths << QString::fromStdString(sample.path.string());
    o.labelLevel = m_dataset->labelLevel();
    o.model = s.model.toStdString();
    o.imageSize = s.imageSize;
    o.freezeBackbone = s.freezeBackbone;
    o.epochs = s.epochs;
    o.pk.classesPerBatch = s.classesPerBatch;
    o.pk.imagesPerClass = s.imagesPerClass;
    o.miner = s.miner.toStdString();
    o.distance = s.distance.toStdString();
    o.margin = s.margin;
    o.softMargin = s.softMargin;
    o.learningRate = s.learningRate;
    o.precision = core::parsePrecision(s.precision.toStdString());
    o.trainableBlocks = s.trainableBlocks;
    // Pretrained weights fine-tune better with gentler crops and colour changes than training
    // from scratch needs (resources/models/README.md); presets keep the from-scratch defaults.
    const auto presets = core::model::VitConfig::presetNames();
    if (std::find(presets.begin(), presets.end(), o.model) == presets.end()) {
        o.augment.minScale = 0.5;
        o.augment.brightness = o.augment.contrast = o.augment.saturation = 0.2;
    }
    o.checkpointPath = run->latest;
    o.checkpointEverySteps = 50;
    o.cancel = run->cancel.get();
    run->trainer = std::make_unique<core::train::Trainer>(o);
    m_run = run;
    m_steps = 0;
    m_stopping = false;
    m_panel->clearRun();
    m_panel->setRunning(true, false);
    Q_EMIT started();

    QPointer<TrainingController> self(this);
    // Views follow the model being trained from the start.
    m_workspace->setModel(s.model, s.imageSize);

    m_runner->start(
        [run, self](const JobRunner::Context& ctx) -> std::function<void()> {
            struct Listener : core::train::TrainerListener {
                std::shared_ptr<Run> run;
                QPointer<TrainingController> self;
                core::ProgressFn progress;
                void post(std::function<void(TrainingController*)> f) {
                    QMetaObject::invokeMethod(
                        self.data(),
                        [s = self, f] {
                            if (s)
                                f(s.data());
                        },
                        Qt::QueuedConnection);
                }
                void keepCheckpoint(std::int64_t step) {
                    // The trainer overwrites latest.safetensors; keep each one under its step.
                    std::error_code ec;
                    if (!fs::exists(run->latest, ec))
                        return;
                    fs::path kept = run->dir / ("step-" + std::to_string(step) + ".safetensors");
                    fs::copy_file(run->latest, kept, fs::copy_options::overwrite_existing, ec);
                    if (!ec) {
                        QString path = QString::fromStdString(kept.string());
                        post([path, step](TrainingController* c) {
                            c->m_lastCheckpoint = path;
                            c->m_panel->addCheckpoint(path, tr("step %1").arg(step));
                        });
                    }
                }
                void onProgress(long long done, long long total, const core::Stage& stage) override {
                    switch (stage.kind) {
                    case core::StageKind::Training:
                        // onStep draws the step; the runner derives the ETA from the steps.
                        core::report(progress, done, total, stage.kind);
                        return;
                    case core::StageKind::Checkpoint: run->checkpointPending = true; break;
                    default: break;
                    }
                    QString text = QString::fromStdString(stage.label());
                    post([text, done, total](TrainingController* c) {
                        c->m_panel->setProgress(0, 0, -1,
                                                total > 0 ? tr("%1 %2/%3").arg(text).arg(done).arg(total) : text);
                    });
                }
                void onStep(const core::train::StepStats& st) override {
                    if (run->checkpointPending) {
                        run->checkpointPending = false;
                        keepCheckpoint(st.step - 1);
                    }
                    const bool publish = st.step % run->liveEvery == 0 || st.step == 1;
                    QVector<TripletView> triplets;
                    for (const auto& t : st.hardest) {
                        TripletView v;
                        v.anchor = int(t.anchor);
                        v.positive = int(t.positive);
                        v.negative = int(t.negative);
                        v.anchorPath = run->paths.value(v.anchor);
                        v.positivePath = run->paths.value(v.positive);
                        v.negativePath = run->paths.value(v.negative);
                        v.dPositive = t.dPositive;
                        v.dNegative = t.dNegative;
                        v.violates = t.violates();
                        triplets << v;
                    }
                    WeightSnapshot weights;
                    if (publish)
                        weights = std::make_shared<const std::map<std::string, at::Tensor>>(
                            run->trainer->snapshotState());
                    post([st, weights, triplets, spec = run->spec, size = run->imageSize](TrainingController* c) {
                        if (!triplets.isEmpty() && (st.step % 5 == 0 || st.step < 5))
                            c->m_panel->setTriplets(triplets);
                        c->m_steps = st.step;
                        c->m_panel->addStep(st.step, st.loss, st.activeFraction, st.meanPositive, st.meanNegative,
                                            st.learningRate);
                        c->m_panel->setProgress(st.step, st.totalSteps, c->m_runner->etaSeconds(),
                                                tr("epoch %1 · step %2/%3 · loss %4 · %5 img/s%6")
                                                    .arg(st.epoch)
                                                    .arg(st.step)
                                                    .arg(st.totalSteps)
                                                    .arg(st.loss, 0, 'f', 4)
                                                    .arg(st.imagesPerSecond, 0, 'f', 1)
                                                    .arg(st.skipped ? tr(" · step skipped (not finite)") : QString()));
                        Q_EMIT c->stepDone(st.step);
                        if (weights) {
                            c->m_workspace->applyWeights(weights, st.step, spec, size);
                            Q_EMIT c->snapshotPublished(st.step);
                        }
                    });
                }
                void onEpoch(const core::train::EpochStats& e) override {
                    if (!e.validated)
                        return;
                    post([e](TrainingController* c) {
                        c->m_panel->addValidation(e.epoch, c->m_steps, e.validation.precisionAt1, e.validation.mapAtR);
                    });
                }
                void onWarning(const std::string& message) override {
                    QString text = QString::fromStdString(message);
                    post([text](TrainingController* c) { c->m_panel->addWarning(text); });
                }
            } listener;
            listener.run = run;
            listener.self = self;
            listener.progress = ctx.progress;
            core::train::TrainResult result = run->trainer->run(&listener);
            if (result.checkpointWritten)
                listener.keepCheckpoint(result.steps);
            QString summary = result.message.empty()
                                  ? QObject::tr("Trained %1 steps in %2 s; validation MAP@R %3 → %4, P@1 %5 → %6")
                                        .arg(result.steps)
                                        .arg(result.seconds, 0, 'f', 0)
                                        .arg(result.initialValidation.mapAtR, 0, 'f', 3)
                                        .arg(result.finalValidation.mapAtR, 0, 'f', 3)
                                        .arg(result.initialValidation.precisionAt1, 0, 'f', 3)
                                        .arg(result.finalValidation.precisionAt1, 0, 'f', 3)
                                  : QString::fromStdString(result.message);
            if (result.cancelled)
                summary = QObject::tr("Stopped at step %1; checkpoint saved. ").arg(result.steps) + summary;
            return [self, summary] {
                if (!self)
                    return;
                self->m_panel->setProgress(self->m_steps, self->m_steps, 0, summary);
                Q_EMIT self->finished(summary);
            };
        },
        run->cancel);
}

void TrainingController::pause() {
    if (m_run && m_run->trainer) {
        m_run->trainer->requestPause();
        m_panel->setRunning(true, true);
    }
}

void TrainingController::resume() {
    if (m_run && m_run->trainer) {
        m_run->trainer->resume();
        m_panel->setRunning(true, false);
    }
}

void TrainingController::stop() {
    if (!m_runner->busy())
        return;
    m_stopping = true;
    m_runner->cancel(); // the token the trainer polls
    if (m_run && m_run->trainer)
        m_run->trainer->resume(); // a paused run wakes up at once to see it
}

} // namespace vitrine::ui
