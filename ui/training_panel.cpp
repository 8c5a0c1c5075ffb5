#include "ui/training_panel.h"

#include <cmath>

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QGridLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QListWidget>
#include <QPainter>
#include <QProgressBar>
#include <QPushButton>
#include <QScrollArea>
#include <QSettings>
#include <QShortcut>
#include <QSpinBox>
#include <QSplitter>
#include <QTabWidget>
#include <QVBoxLayout>

#include "core/common/precision.h"
#include "ui/job_runner.h"
#include "ui/line_chart.h"
#include "ui/thumbnail_cache.h"

namespace vitrine::ui {
namespace {

enum { kModeHead = 0, kModeLastBlocks = 1, kModeAll = 2 }; // m_mode's items

QIcon tripletIcon(ThumbnailCache* thumbs, const TripletView& t) {
    // Anchor | positive | negative side by side, framed green/red.
    const int s = 64;
    QImage strip(3 * s + 8, s, QImage::Format_RGB32);
    strip.fill(Qt::white);
    QPainter p(&strip);
    const QString paths[3] = {t.anchorPath, t.positivePath, t.negativePath};
    const QColor frames[3] = {QColor(60, 60, 60), QColor(40, 160, 60), QColor(200, 40, 40)};
    for (int i = 0; i < 3; ++i) {
        QImage img = thumbs->get(paths[i]);
        QRect r(i * (s + 4), 0, s, s);
        if (!img.isNull())
            p.drawImage(r, img);
        else
            p.fillRect(r, QColor(225, 225, 225));
        p.setPen(QPen(frames[i], 3));
        p.drawRect(r.adjusted(1, 1, -2, -2));
    }
    return QIcon(QPixmap::fromImage(strip));
}

} // namespace

TrainingPanel::TrainingPanel(ThumbnailCache* thumbs, QWidget* parent)
    : QWidget(parent), m_thumbs(thumbs), m_model(new QComboBox), m_mode(new QComboBox), m_miner(new QComboBox),
      m_distance(new QComboBox), m_margin(new QDoubleSpinBox), m_lossKind(new QComboBox), m_p(new QSpinBox),
      m_k(new QSpinBox), m_lr(new QDoubleSpinBox), m_epochs(new QSpinBox), m_imageSize(new QComboBox),
      m_liveEvery(new QSpinBox), m_blocks(new QSpinBox), m_precision(new QComboBox),
      m_start(new QPushButton(tr("Start"))), m_pause(new QPushButton(tr("Pause"))), m_stop(new QPushButton(tr("Stop"))),
      m_progress(new QProgressBar), m_status(new QLabel), m_loss(new LineChart(tr("Loss"))),
      m_active(new LineChart(tr("Active triplets"))), m_distances(new LineChart(tr("Distances"))),
      m_lrChart(new LineChart(tr("Learning rate"))), m_validation(new LineChart(tr("Validation"))),
      m_triplets(new QListWidget), m_warnings(new QListWidget), m_checkpoints(new QListWidget) {
    // --- form
    m_model->setEditable(false);
    m_model->setToolTip(
        tr("The weights training starts from: the pretrained ViT-Ti/16 (ImageNet-21k), Vitrine's "
           "default model (that ViT fine-tuned on pet breeds), a preset with random weights, or a "
           ".safetensors checkpoint (timm, DINO, Hugging Face and torchvision layouts are recognised)."));
    // The order of kModes* below.
    m_mode->addItems({tr("Head only (frozen backbone)"), tr("Fine-tune the last blocks"), tr("Fine-tune everything")});
    m_mode->setToolTip(tr("Head only: the transformer stays fixed and only the projection head learns — fastest, "
                          "and on a few hundred photos the best for pretrained weights (it keeps what ImageNet "
                          "taught the backbone).\n"
                          "Last blocks: the last N transformer blocks, the final norm and the head learn.\n"
                          "Everything: every layer learns (slowest; right for training from scratch)."));
    m_blocks->setRange(1, 64);
    m_blocks->setValue(2);
    m_blocks->setSuffix(tr(" blocks"));
    m_blocks->setAccessibleName(tr("Blocks to train"));
    m_blocks->setToolTip(tr("How many of the last transformer blocks learn when fine-tuning the last blocks."));
    connect(m_mode, &QComboBox::currentIndexChanged, this,
            [this](int i) { m_blocks->setEnabled(i == kModeLastBlocks && m_start->isEnabled()); });
    m_miner->addItems({QStringLiteral("batch-hard"), QStringLiteral("batch-all"), QStringLiteral("semi-hard"),
                       QStringLiteral("random")});
    m_miner->setToolTip(tr("Which triplets of the batch teach the model:\n"
                           "batch-hard — for each anchor, its farthest positive and closest negative;\n"
                           "batch-all — every valid (anchor, positive, negative) triplet;\n"
                           "semi-hard — negatives farther than the positive but within the margin (FaceNet);\n"
                           "random — one random valid triplet per anchor."));
    m_lossKind->addItems({tr("soft margin"), tr("hinge with margin")});
    m_lossKind->setToolTip(tr("Soft margin: softplus(d(a,p) − d(a,n)); every triplet keeps teaching, which trains "
                              "steadily from scratch.\nHinge: max(0, d(a,p) − d(a,n) + m); only triplets that break "
                              "the margin teach, which can collapse the embedding early in training."));
    connect(m_lossKind, &QComboBox::currentIndexChanged, this, [this](int i) { m_margin->setEnabled(i == 1); });
    m_distance->addItems({QStringLiteral("euclidean"), QStringLiteral("cosine")});
    m_distance->setToolTip(tr("Distance between L2-normalised embeddings: Euclidean (0…2) or cosine (1 − cos θ)."));
    m_margin->setRange(0.0, 2.0);
    m_margin->setSingleStep(0.05);
    m_margin->setDecimals(3);
    m_margin->setValue(0.2);
    m_margin->setToolTip(tr("Triplet margin m: the loss is max(0, d(a,p) − d(a,n) + m). A negative must be at "
                            "least m farther from the anchor than the positive."));
    m_p->setRange(2, 64);
    m_p->setValue(TrainingSettings{}.classesPerBatch);
    m_p->setToolTip(tr("P: classes per batch. Each batch holds P classes × K images."));
    m_p->setAccessibleName(tr("Classes per batch (P)"));
    m_k->setAccessibleName(tr("Images per class (K)"));
    m_k->setRange(2, 32);
    m_k->setValue(4);
    m_k->setToolTip(tr("K: images per class in a batch (at least 2, so every anchor has a positive). "
                       "Classes with fewer images are sampled with replacement."));
    m_lr->setDecimals(6);
    m_lr->setRange(1e-6, 1.0);
    m_lr->setSingleStep(1e-4);
    m_lr->setValue(TrainingSettings{}.learningRate);
    m_lr->setToolTip(tr("Peak learning rate of AdamW, reached after a short warm-up, then decayed on a cosine."));
    m_epochs->setRange(1, 1000);
    m_epochs->setValue(TrainingSettings{}.epochs);
    m_epochs->setToolTip(tr("Passes over the training split (80% of each class; the other 20% validate)."));
    m_imageSize->addItem(tr("Model's own"), 0);
    for (int s : {64, 96, 112, 128, 160, 224})
        m_imageSize->addItem(QStringLiteral("%1 px").arg(s), s);
    m_imageSize->setToolTip(tr("Input size. Smaller trains much faster; positional embeddings are resized."));
    m_liveEvery->setRange(1, 10000);
    m_liveEvery->setValue(10);
    m_liveEvery->setSuffix(tr(" steps"));
    m_liveEvery->setToolTip(tr("How often the map, the neighbours and the Inspector re-embed with the current "
                               "weights. Training never waits for them."));
    // No probe here (the GUI thread never computes): the label says what the CPU allows.
    m_precision->addItem(core::cpuFeatures().nativeBf16() ? tr("Automatic (bfloat16 where measured faster)")
                                                          : tr("Automatic (float32: no native bfloat16 here)"),
                         QStringLiteral("auto"));
    m_precision->addItem(tr("float32"), QStringLiteral("fp32"));
    m_precision->addItem(tr("bfloat16"), QStringLiteral("bf16"));
    m_precision->setToolTip(tr("Arithmetic of the forward pass. Automatic uses bfloat16 only on CPUs that multiply it "
                               "natively (AVX512-BF16, AMX) and only when a quick measurement finds it faster; "
                               "elsewhere bfloat16 is emulated and many times slower than float32. Weights and "
                               "gradients stay float32 either way."));

    auto* form = new QFormLayout;
    form->addRow(tr("Start from"), m_model);
    auto* mode = new QHBoxLayout;
    mode->addWidget(m_mode, 1);
    mode->addWidget(m_blocks);
    form->addRow(tr("Mode"), mode);
    form->addRow(tr("Miner"), m_miner);
    form->addRow(tr("Distance"), m_distance);
    form->addRow(tr("Loss"), m_lossKind);
    form->addRow(tr("Margin"), m_margin);
    auto* pk = new QHBoxLayout;
    pk->addWidget(m_p);
    pk->addWidget(new QLabel(QStringLiteral("×")));
    pk->addWidget(m_k);
    form->addRow(tr("Batch P × K"), pk);
    form->addRow(tr("Learning rate"), m_lr);
    form->addRow(tr("Epochs"), m_epochs);
    form->addRow(tr("Image size"), m_imageSize);
    form->addRow(tr("Update views every"), m_liveEvery);
    form->addRow(tr("Precision"), m_precision);

    m_start->setToolTip(tr("Start training on the loaded data set at the chosen class level (Ctrl+Return)"));
    // Ctrl+Return belongs to the window's Train action, so it works from any panel.
    m_pause->setToolTip(tr("Pause or resume after the current step (Ctrl+P)"));
    m_pause->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_P));
    m_stop->setToolTip(tr("Stop after the current step and write a checkpoint (Ctrl+.)"));
    m_stop->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Period));
    m_start->setObjectName(QStringLiteral("trainStart"));
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(m_start);
    buttons->addWidget(m_pause);
    buttons->addWidget(m_stop);

    auto* left = new QWidget;
    auto* leftLayout = new QVBoxLayout(left);
    leftLayout->addLayout(form);
    leftLayout->addLayout(buttons);
    leftLayout->addWidget(m_progress);
    leftLayout->addWidget(m_status);
    leftLayout->addStretch(1);
    m_status->setWordWrap(true);
    // Combo boxes elide their text instead of widening the form past a narrow dock.
    for (QComboBox* c : left->findChildren<QComboBox*>()) {
        c->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
        c->setMinimumContentsLength(8);
    }
    auto* scroll = new QScrollArea;
    scroll->setWidget(left);
    scroll->setWidgetResizable(true);
    scroll->setMinimumWidth(260);

    // --- charts
    m_loss->addSeries(tr("loss"), QColor(160, 190, 220));
    // Per-batch losses are noisy (a new P x K batch each step); the trend is the smoothed line.
    m_loss->addSeries(tr("smoothed"), QColor(31, 119, 180));
    m_active->addSeries(tr("active"), QColor(214, 39, 40));
    m_distances->addSeries(tr("d(a,p)"), QColor(44, 160, 44));
    m_distances->addSeries(tr("d(a,n)"), QColor(214, 39, 40));
    m_distances->addSeries(tr("d(a,n) − d(a,p)"), QColor(127, 127, 127));
    m_lrChart->addSeries(tr("lr"), QColor(148, 103, 189));
    m_validation->addSeries(tr("P@1"), QColor(255, 127, 14));
    m_validation->addSeries(tr("MAP@R"), QColor(31, 119, 180));
    auto* charts = new QWidget;
    auto* grid = new QGridLayout(charts);
    grid->setContentsMargins(0, 0, 0, 0);
    grid->addWidget(m_loss, 0, 0);
    grid->addWidget(m_distances, 0, 1);
    grid->addWidget(m_validation, 0, 2);
    grid->addWidget(m_active, 1, 0);
    grid->addWidget(m_lrChart, 1, 1);

    // --- triplets, warnings, checkpoints
    m_triplets->setViewMode(QListView::ListMode);
    m_triplets->setIconSize(QSize(3 * 64 + 8, 64));
    m_triplets->setToolTip(tr("The hardest triplets of the latest batch: anchor, positive (green), negative (red). "
                              "Double-click to open the anchor and the negative in the Inspector."));
    m_warnings->setToolTip(tr("Warnings from the training engine"));
    m_checkpoints->setToolTip(tr("Checkpoints written by this run. Double-click to load one into the map, the "
                                 "neighbours and the Inspector; select two and press Compare to see attention "
                                 "before and after."));
    m_checkpoints->setSelectionMode(QAbstractItemView::ExtendedSelection);
    auto* compare = new QPushButton(tr("Compare attention of two checkpoints"));
    auto* ckptBox = new QWidget;
    auto* ckptLayout = new QVBoxLayout(ckptBox);
    ckptLayout->setContentsMargins(0, 0, 0, 0);
    ckptLayout->addWidget(m_checkpoints);
    ckptLayout->addWidget(compare);
    auto* tabs = new QTabWidget;
    tabs->addTab(m_triplets, tr("Hardest triplets"));
    tabs->addTab(m_warnings, tr("Warnings"));
    tabs->addTab(ckptBox, tr("Checkpoints"));
    tabs->setMinimumWidth(260);
    tabs->setObjectName(QStringLiteral("trainingTabs"));

    // The charts, triplets, warnings and checkpoints of a run: a widget of their own, which
    // the main window shows in its own dock once a run starts (chartsWidget()).
    auto* split = new QSplitter(Qt::Horizontal);
    split->setObjectName(QStringLiteral("trainingCharts"));
    split->addWidget(charts);
    split->addWidget(tabs);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 1);
    split->setParent(this);
    split->hide();
    m_chartsArea = split;

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(scroll);

    connect(m_start, &QPushButton::clicked, this, [this] {
        saveSettings();
        Q_EMIT startRequested();
    });
    connect(m_pause, &QPushButton::clicked, this, [this] {
        if (m_paused)
            Q_EMIT resumeRequested();
        else
            Q_EMIT pauseRequested();
    });
    connect(m_stop, &QPushButton::clicked, this, &TrainingPanel::stopRequested);
    connect(m_checkpoints, &QListWidget::itemDoubleClicked, this,
            [this](QListWidgetItem* item) { Q_EMIT checkpointActivated(item->data(Qt::UserRole).toString()); });
    connect(compare, &QPushButton::clicked, this, [this] {
        auto sel = m_checkpoints->selectedItems();
        if (sel.size() == 2)
            Q_EMIT compareCheckpointsRequested(sel[0]->data(Qt::UserRole).toString(),
                                               sel[1]->data(Qt::UserRole).toString());
    });
    connect(m_triplets, &QListWidget::itemDoubleClicked, this, [this](QListWidgetItem* item) {
        Q_EMIT tripletActivated(item->data(Qt::UserRole).toInt(), item->data(Qt::UserRole + 1).toInt());
    });
    setModelChoices({}, {});
    loadSettings();
    setRunning(false, false);
}

void TrainingPanel::setModelChoices(const QStringList& bundled, const QStringList& presets) {
    const QString current = m_model->count() ? m_model->currentData().toString() : TrainingSettings{}.model;
    m_model->clear();
    for (const QString& b : bundled) {
        if (b == QStringLiteral("default"))
            m_model->addItem(tr("Default model (ViT-Ti/16 fine-tuned on pet breeds)"), b);
        else if (b == QStringLiteral("vit-tiny-16-augreg"))
            m_model->addItem(tr("ViT-Ti/16 AugReg (pretrained on ImageNet-21k)"), b);
        else
            m_model->addItem(b, b);
    }
    for (const QString& p : presets)
        m_model->addItem(tr("%1 (random weights)").arg(p), p);
    int i = m_model->findData(current);
    m_model->setCurrentIndex(i < 0 ? 0 : i);
}

TrainingSettings TrainingPanel::settings() const {
    TrainingSettings s;
    s.model = m_model->currentData().toString();
    s.freezeBackbone = m_mode->currentIndex() == kModeHead;
    s.trainableBlocks = m_mode->currentIndex() == kModeLastBlocks ? m_blocks->value() : -1;
    s.miner = m_miner->currentText();
    s.distance = m_distance->currentText();
    s.margin = m_margin->value();
    s.softMargin = m_lossKind->currentIndex() == 0;
    s.classesPerBatch = m_p->value();
    s.imagesPerClass = m_k->value();
    s.learningRate = m_lr->value();
    s.epochs = m_epochs->value();
    s.imageSize = m_imageSize->currentData().toInt();
    s.liveEverySteps = m_liveEvery->value();
    s.precision = m_precision->currentData().toString();
    return s;
}

void TrainingPanel::setSettings(const TrainingSettings& s) {
    int i = m_model->findData(s.model);
    if (i < 0) {
        m_model->addItem(s.model, s.model);
        i = m_model->count() - 1;
    }
    m_model->setCurrentIndex(i);
    m_mode->setCurrentIndex(s.freezeBackbone ? kModeHead : s.trainableBlocks > 0 ? kModeLastBlocks : kModeAll);
    if (s.trainableBlocks > 0)
        m_blocks->setValue(s.trainableBlocks);
    m_miner->setCurrentText(s.miner);
    m_distance->setCurrentText(s.distance);
    m_margin->setValue(s.margin);
    m_lossKind->setCurrentIndex(s.softMargin ? 0 : 1);
    m_margin->setEnabled(!s.softMargin);
    m_p->setValue(s.classesPerBatch);
    m_k->setValue(s.imagesPerClass);
    m_lr->setValue(s.learningRate);
    m_epochs->setValue(s.epochs);
    int size = m_imageSize->findData(s.imageSize);
    if (size < 0) {
        m_imageSize->addItem(QStringLiteral("%1 px").arg(s.imageSize), s.imageSize);
        size = m_imageSize->count() - 1;
    }
    m_imageSize->setCurrentIndex(size);
    m_liveEvery->setValue(s.liveEverySteps);
    const int p = m_precision->findData(s.precision);
    m_precision->setCurrentIndex(p < 0 ? 0 : p);
}

void TrainingPanel::saveSettings() const {
    QSettings q;
    q.beginGroup(QStringLiteral("training"));
    const TrainingSettings s = settings();
    q.setValue(QStringLiteral("mode3"), m_mode->currentIndex());
    q.setValue(QStringLiteral("miner"), s.miner);
    q.setValue(QStringLiteral("distance"), s.distance);
    q.setValue(QStringLiteral("margin"), s.margin);
    q.setValue(QStringLiteral("softMargin"), s.softMargin);
    q.setValue(QStringLiteral("p"), s.classesPerBatch);
    q.setValue(QStringLiteral("k"), s.imagesPerClass);
    q.setValue(QStringLiteral("lr"), s.learningRate);
    q.setValue(QStringLiteral("epochs"), s.epochs);
    q.setValue(QStringLiteral("imageSize"), m_imageSize->currentIndex());
    q.setValue(QStringLiteral("liveEvery"), s.liveEverySteps);
    q.setValue(QStringLiteral("blocks"), m_blocks->value());
    q.setValue(QStringLiteral("precision"), s.precision);
    q.setValue(QStringLiteral("model"), s.model);
}

void TrainingPanel::loadSettings() {
    QSettings q;
    q.beginGroup(QStringLiteral("training"));
    // "mode3": the modes were reordered when "last blocks" came; an old "mode" index means something else.
    m_mode->setCurrentIndex(q.value(QStringLiteral("mode3"), kModeHead).toInt());
    m_blocks->setValue(q.value(QStringLiteral("blocks"), 2).toInt());
    if (const int m = m_model->findData(q.value(QStringLiteral("model"), TrainingSettings{}.model)); m >= 0)
        m_model->setCurrentIndex(m);
    m_miner->setCurrentText(q.value(QStringLiteral("miner"), QStringLiteral("batch-all")).toString());
    m_distance->setCurrentText(q.value(QStringLiteral("distance"), QStringLiteral("euclidean")).toString());
    m_margin->setValue(q.value(QStringLiteral("margin"), 0.2).toDouble());
    m_lossKind->setCurrentIndex(q.value(QStringLiteral("softMargin"), true).toBool() ? 0 : 1);
    m_margin->setEnabled(m_lossKind->currentIndex() == 1);
    m_p->setValue(q.value(QStringLiteral("p"), TrainingSettings{}.classesPerBatch).toInt());
    m_k->setValue(q.value(QStringLiteral("k"), 4).toInt());
    m_lr->setValue(q.value(QStringLiteral("lr"), TrainingSettings{}.learningRate).toDouble());
    m_epochs->setValue(q.value(QStringLiteral("epochs"), TrainingSettings{}.epochs).toInt());
    m_imageSize->setCurrentIndex(q.value(QStringLiteral("imageSize"), 0).toInt());
    m_liveEvery->setValue(q.value(QStringLiteral("liveEvery"), 10).toInt());
    const int p = m_precision->findData(q.value(QStringLiteral("precision"), QStringLiteral("auto")).toString());
    m_precision->setCurrentIndex(p < 0 ? 0 : p);
}

void TrainingPanel::setRunning(bool running, bool paused) {
    m_paused = paused;
    m_start->setEnabled(!running);
    m_pause->setEnabled(running);
    m_stop->setEnabled(running);
    m_pause->setText(paused ? tr("Resume") : tr("Pause"));
    for (QWidget* w : std::initializer_list<QWidget*>{m_model, m_mode, m_miner, m_distance, m_lossKind, m_margin, m_p,
                                                      m_k, m_lr, m_epochs, m_imageSize, m_precision})
        w->setEnabled(!running);
    m_blocks->setEnabled(!running && m_mode->currentIndex() == kModeLastBlocks);
    m_margin->setEnabled(!running && m_lossKind->currentIndex() == 1);
    if (!running)
        m_progress->setVisible(m_progress->value() > 0);
}

void TrainingPanel::setProgress(qint64 step, qint64 total, double etaSeconds, const QString& text) {
    m_progress->setVisible(true);
    m_progress->setRange(0, total > 0 ? int(total) : 0);
    m_progress->setValue(int(step));
    m_progress->setFormat(total > 0 ? tr("step %v / %m · %1 left").arg(formatEta(etaSeconds)) : tr("preparing…"));
    m_status->setText(text);
}

void TrainingPanel::addStep(qint64 step, double loss, double activeFraction, double dPos, double dNeg, double lr) {
    m_loss->append(0, double(step), loss);
    m_lossEma = std::isfinite(m_lossEma) ? 0.9 * m_lossEma + 0.1 * loss : loss;
    m_loss->append(1, double(step), m_lossEma);
    m_active->append(0, double(step), activeFraction);
    m_distances->append(0, double(step), dPos);
    m_distances->append(1, double(step), dNeg);
    m_distances->append(2, double(step), dNeg - dPos);
    m_distances->setReferenceLine(tr("margin"), m_margin->value(), QColor(120, 120, 120));
    m_lrChart->append(0, double(step), lr);
}

void TrainingPanel::addValidation(int /*epoch*/, qint64 step, double precisionAt1, double mapAtR) {
    m_validation->append(0, double(step), precisionAt1);
    m_validation->append(1, double(step), mapAtR);
}

void TrainingPanel::setTriplets(const QVector<TripletView>& triplets) {
    m_triplets->clear();
    for (const TripletView& t : triplets) {
        auto* item = new QListWidgetItem(tripletIcon(m_thumbs, t),
                                         tr("a–p %1\na–n %2\n%3")
                                             .arg(t.dPositive, 0, 'f', 3)
                                             .arg(t.dNegative, 0, 'f', 3)
                                             .arg(t.violates ? tr("violates") : tr("satisfied")));
        item->setForeground(t.violates ? QColor(190, 30, 30) : QColor(40, 120, 40));
        item->setData(Qt::UserRole, t.anchor);
        item->setData(Qt::UserRole + 1, t.negative);
        m_triplets->addItem(item);
    }
}

void TrainingPanel::addWarning(const QString& message) {
    auto* item = new QListWidgetItem(QIcon::fromTheme(QStringLiteral("dialog-warning")), message);
    item->setToolTip(message);
    m_warnings->insertItem(0, item);
    m_status->setText(QStringLiteral("⚠ ") + message);
}

void TrainingPanel::addCheckpoint(const QString& path, const QString& description) {
    auto* item = new QListWidgetItem(description);
    item->setData(Qt::UserRole, path);
    item->setToolTip(path);
    m_checkpoints->insertItem(0, item);
}

void TrainingPanel::clearRun() {
    for (LineChart* c : {m_loss, m_active, m_distances, m_lrChart, m_validation})
        c->clear();
    m_lossEma = std::numeric_limits<double>::quiet_NaN();
    m_triplets->clear();
    m_warnings->clear();
    m_progress->setValue(0);
    m_status->clear();
}

} // namespace vitrine::ui
