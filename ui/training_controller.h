#pragma once
// Runs core::train::Trainer on its own thread for the Training panel and feeds the
// live views: per-step figures go to the panel's curves, and every N steps a copy of
// the weights goes to the Workspace, which re-embeds and re-projects on its own
// workers. Training never waits for the display.

#include <QObject>
#include <QString>

#include <atomic>
#include <memory>

#include "ui/training_panel.h"

namespace vitrine::ui {

class DatasetModel;
class JobRunner;
class Workspace;

class TrainingController : public QObject {
    Q_OBJECT
public:
    TrainingController(TrainingPanel* panel, DatasetModel* dataset, Workspace* workspace, QObject* parent = nullptr);
    ~TrainingController() override;

    bool running() const;
    bool paused() const;
    /// Paused, and the step that was in flight has landed: the thread waits for Resume.
    bool holding() const;
    /// Starts with the panel's settings on the loaded data set at its class level.
    void start();
    void pause();
    void resume();
    /// Asks the run to stop and returns at once: the step in flight is abandoned and a
    /// checkpoint of the completed steps is written on the training thread; idle() follows.
    void stop();
    /// stop() was asked and the run has not ended yet.
    bool stopping() const { return m_stopping; }
    /// Folder holding this session's runs.
    static QString runsDirectory();
    QString lastCheckpoint() const { return m_lastCheckpoint; }
    qint64 stepsSeen() const { return m_steps; }

Q_SIGNALS:
    void started();
    void finished(const QString& summary);
    void stepDone(qint64 step);
    void snapshotPublished(qint64 step);
    /// The run has ended, however (finished, failed or stopped); running() is false now.
    void idle();

private:
    struct Run;
    TrainingPanel* m_panel;
    DatasetModel* m_dataset;
    Workspace* m_workspace;
    JobRunner* m_runner;
    std::shared_ptr<Run> m_run;
    QString m_lastCheckpoint;
    qint64 m_steps = 0;
    bool m_stopping = false;
};

} // namespace vitrine::ui
