#pragma once

#include <limits>
// The Training panel: hyper-parameters with explanations, Start/Pause/Stop, a progress
// bar with ETA, live curves (loss, active triplets, distances with the margin,
// learning rate, validation P@1 and MAP@R), the hardest triplets of the current batch,
// engine warnings, and the run's checkpoints.

#include <QWidget>

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QListWidget;
class QProgressBar;
class QPushButton;
class QSpinBox;

namespace vitrine::ui {

class LineChart;
class ThumbnailCache;

/// What the panel's form says, in plain types (the controller maps it to core).
struct TrainingSettings {
    /// A bundled model ("vit-tiny-16-augreg", "default"), a preset name, or a .safetensors path.
    /// The pretrained ImageNet ViT-Ti/16 by default: breed clusters tighten within minutes.
    QString model = QStringLiteral("vit-tiny-16-augreg");
    /// Head only by default: on the pet photos it was the only mode that beat the pretrained
    /// features on held-out photos (resources/models/README.md).
    bool freezeBackbone = true;
    int trainableBlocks = -1; ///< > 0: fine-tune the last N blocks (+ final norm and head); -1 = all
    QString miner = QStringLiteral("batch-all");
    /// softplus(d(a,p) - d(a,n)) instead of the hinge with margin: it keeps a gradient on
    /// every triplet, and did not collapse when training from scratch (see resources/models).
    bool softMargin = true;
    QString distance = QStringLiteral("euclidean");
    double margin = 0.2;
    int classesPerBatch = 16;
    int imagesPerClass = 4;
    double learningRate = 2e-4;
    int epochs = 8;
    int imageSize = 0;                          ///< 0 = the model's
    int liveEverySteps = 10;                    ///< re-embed and re-project every N steps
    QString precision = QStringLiteral("auto"); ///< "auto", "fp32" or "bf16"
};

struct TripletView {
    int anchor = -1, positive = -1, negative = -1; ///< data set rows
    QString anchorPath, positivePath, negativePath;
    double dPositive = 0, dNegative = 0;
    bool violates = false;
};

class TrainingPanel : public QWidget {
    Q_OBJECT
public:
    explicit TrainingPanel(ThumbnailCache* thumbs, QWidget* parent = nullptr);

    TrainingSettings settings() const;
    /// Fills the form (tests, and restoring a run's settings).
    void setSettings(const TrainingSettings& s);
    /// `bundled`: models shipped with Vitrine (trained weights); `presets`: random-weight presets.
    void setModelChoices(const QStringList& bundled, const QStringList& presets);

    // State changes driven by the controller.
    void setRunning(bool running, bool paused);
    void setProgress(qint64 step, qint64 total, double etaSeconds, const QString& text);
    void addStep(qint64 step, double loss, double activeFraction, double dPos, double dNeg, double lr);
    void addValidation(int epoch, qint64 step, double precisionAt1, double mapAtR);
    void setTriplets(const QVector<TripletView>& triplets);
    void addWarning(const QString& message);
    void addCheckpoint(const QString& path, const QString& description);
    void clearRun();

    LineChart* lossChart() const { return m_loss; }
    LineChart* validationChart() const { return m_validation; }
    QPushButton* startButton() const { return m_start; }
    /// The run's charts, hardest triplets, warnings and checkpoints, to be placed by the
    /// window (it starts as a hidden child of this panel).
    QWidget* chartsWidget() const { return m_chartsArea; }
    QPushButton* pauseButton() const { return m_pause; }
    QPushButton* stopButton() const { return m_stop; }
    QListWidget* checkpointList() const { return m_checkpoints; }
    QListWidget* warningList() const { return m_warnings; }

Q_SIGNALS:
    void startRequested();
    void pauseRequested();
    void resumeRequested();
    void stopRequested();
    void checkpointActivated(const QString& path);
    void compareCheckpointsRequested(const QString& a, const QString& b);
    void tripletActivated(int anchorRow, int otherRow);

private:
    void saveSettings() const;
    void loadSettings();

    ThumbnailCache* m_thumbs;
    QComboBox* m_model;
    QComboBox* m_mode;
    QComboBox* m_miner;
    QComboBox* m_distance;
    QDoubleSpinBox* m_margin;
    QComboBox* m_lossKind;
    double m_lossEma = std::numeric_limits<double>::quiet_NaN(); ///< smoothed loss of this run
    QSpinBox* m_p;
    QSpinBox* m_k;
    QDoubleSpinBox* m_lr;
    QSpinBox* m_epochs;
    QComboBox* m_imageSize;
    QSpinBox* m_liveEvery;
    QSpinBox* m_blocks;
    QComboBox* m_precision;
    QWidget* m_chartsArea = nullptr;
    QPushButton* m_start;
    QPushButton* m_pause;
    QPushButton* m_stop;
    QProgressBar* m_progress;
    QLabel* m_status;
    LineChart* m_loss;
    LineChart* m_active;
    LineChart* m_distances;
    LineChart* m_lrChart;
    LineChart* m_validation;
    QListWidget* m_triplets;
    QListWidget* m_warnings;
    QListWidget* m_checkpoints;
    bool m_paused = false;
};

} // namespace vitrine::ui
