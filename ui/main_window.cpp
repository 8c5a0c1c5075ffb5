#include "ui/main_window.h"

#include <QAction>
#include <QActionGroup>
#include <QApplication>
#include <QCloseEvent>
#include <QDir>
#include <QDockWidget>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QGuiApplication>
#include <QHeaderView>
#include <QInputDialog>
#include <QLabel>
#include <QListView>
#include <QListWidget>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QProgressBar>
#include <QPushButton>
#include <QScreen>
#include <QSettings>
#include <QStackedWidget>
#include <QStandardItemModel>
#include <QStatusBar>
#include <QStyle>
#include <QTabWidget>
#include <QTableView>
#include <QToolBar>
#include <QToolButton>
#include <QUndoCommand>
#include <QUndoStack>

#include <algorithm>
#include <filesystem>
#include <utility>

#include "core/common/precision.h"
#include "core/data/import_rules.h"
#include "core/io/embedding_set.h"
#include "core/model/model_paths.h"
#include "core/model/vit_config.h"
#include "ui/app_paths.h"
#include "ui/audit_panel.h"
#include "ui/compare_panel.h"
#include "ui/dataset_model.h"
#include "ui/dataset_panel.h"
#include "ui/download_dialog.h"
#include "ui/export_dialog.h"
#include "ui/inspector_panel.h"
#include "ui/job_runner.h"
#include "ui/map_panel.h"
#include "ui/neighbours_panel.h"
#include "ui/scatter_view.h"
#include "ui/selection_export_dialog.h"
#include "ui/theme.h"
#include "ui/thumbnail_cache.h"
#include "ui/training_controller.h"
#include "ui/training_panel.h"
#include "ui/welcome_page.h"
#include "ui/workspace.h"

namespace vitrine::ui {
namespace {

constexpr int kMaxRecent = 8;

/// Adding images is undoable: undo removes exactly the samples this command added.
class AddSamplesCommand : public QUndoCommand {
public:
    AddSamplesCommand(DatasetModel* model, std::vector<core::data::Sample> samples, const QString& text)
        : QUndoCommand(text), m_model(model), m_samples(std::move(samples)) {}
    void redo() override { m_model->addSamples(m_samples); }
    void undo() override {
        std::vector<std::string> paths;
        for (const auto& s : m_samples)
            paths.push_back(s.path.string());
        m_model->removeSamples(paths);
    }

private:
    DatasetModel* m_model;
    std::vector<core::data::Sample> m_samples;
};

} // namespace

MainWindow::MainWindow(QWidget* parent)
    : QMainWindow(parent), m_thumbnails(new ThumbnailCache(96, this)),
      m_datasetModel(new DatasetModel(m_thumbnails, this)), m_datasetPanel(new DatasetPanel(m_datasetModel)),
      m_problems(new QStandardItemModel(0, 2, this)), m_problemsView(new QTableView),
      m_scanRunner(new JobRunner(QStringLiteral("scan"), this)), m_undo(new QUndoStack(this)),
      m_statusCounts(new QLabel), m_statusJob(new QLabel), m_progress(new QProgressBar), m_cancel(new QToolButton) {
    setWindowTitle(tr("Vitrine"));
    if (savedTheme() != Theme::System)
        applyTheme(savedTheme());
    setWindowIcon(QIcon(QStringLiteral(":/vitrine/icons/vitrine.svg")));
    setAcceptDrops(true);
    setDockNestingEnabled(true);

    m_problems->setHorizontalHeaderLabels({tr("File"), tr("Problem")});
    m_problemsView->setModel(m_problems);
    m_problemsView->horizontalHeader()->setStretchLastSection(true);
    m_problemsView->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_problemsView->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_problemsView->verticalHeader()->hide();
    m_problemsView->setWordWrap(false);
    m_problemsView->setObjectName(QStringLiteral("problemsView"));

    m_classChooser = [this](const QStringList& existing, int count) {
        bool ok = false;
        QString name = QInputDialog::getItem(
            this, tr("Add %n image(s)", "", count),
            tr("Which class do the %n dropped image(s) belong to?\nPick one or type a new class name.", "", count),
            existing, 0, /*editable=*/true, &ok);
        return ok ? name.trimmed() : QString();
    };

    m_workspace = new Workspace(m_datasetModel, this);
    buildDocks();
    buildMenus();

    m_progress->setMaximumWidth(220);
    m_progress->setVisible(false);
    m_cancel->setText(tr("Cancel"));
    m_cancel->setToolTip(tr("Stop the running job; what was already loaded stays (Esc)"));
    m_cancel->setVisible(false);
    m_cancel->setShortcut(Qt::Key_Escape);
    m_statusModel = new QLabel;
    statusBar()->addWidget(m_statusCounts, 1);
    statusBar()->addWidget(m_statusModel);
    statusBar()->addPermanentWidget(m_statusJob);
    statusBar()->addPermanentWidget(m_progress);
    statusBar()->addPermanentWidget(m_cancel);
    connect(m_cancel, &QToolButton::clicked, this, [this] {
        if (m_activeRunner)
            m_activeRunner->cancel();
    });
    for (JobRunner* r : {m_scanRunner, m_workspace->engineRunner(), m_workspace->analysisRunner()})
        showJobProgress(r);

    connect(m_datasetModel, &DatasetModel::classesChanged, this, &MainWindow::updateStatus);
    connect(m_datasetPanel, &DatasetPanel::currentRowChanged, this, &MainWindow::selectionChanged);
    connect(m_datasetModel, &DatasetModel::classesChanged, this,
            [this] { QSettings().setValue(QStringLiteral("dataset/labelLevel"), m_datasetModel->labelLevel()); });
    m_datasetModel->setLabelLevel(QSettings().value(QStringLiteral("dataset/labelLevel"), -1).toInt());

    // Later starts restore what the user left; the first fills the screen.
    QSettings settings;
    const bool restored = restoreGeometry(settings.value(QStringLiteral("window/geometry")).toByteArray()) &&
                          restoreState(settings.value(QStringLiteral("window/state")).toByteArray(), kLayoutVersion);
    if (!restored)
        fitToScreen();
    // Whatever the last session showed, a new one has no run to chart and no problems yet.
    m_chartsDock->hide();
    m_problemsDock->hide();
    updateCentre();
    updateStatus();
}

void MainWindow::fitToScreen() {
    const QScreen* s = screen() ? screen() : QGuiApplication::primaryScreen();
    const QRect avail = s ? s->availableGeometry() : QRect(0, 0, 1366, 768);
    // Nearly the whole screen (a window manager may still maximise it), never more.
    const QSize size(std::max(640, avail.width() - std::max(0, avail.width() / 40)),
                     std::max(480, avail.height() - std::max(0, avail.height() / 40)));
    setGeometry(QStyle::alignedRect(Qt::LeftToRight, Qt::AlignCenter, size, avail));
    // Docks in proportion: the map in the middle gets what is left (about half the width).
    const int w = size.width();
    resizeDocks({m_datasetDock, m_neighboursDock},
                {std::clamp(w * 22 / 100, 280, 400), std::clamp(w * 26 / 100, 300, 520)}, Qt::Horizontal);
}

void MainWindow::updateCentre() {
    const bool empty = m_datasetModel->rowCount() == 0;
    m_centre->setCurrentWidget(empty ? static_cast<QWidget*>(m_welcome) : m_views);
    if (!empty)
        m_welcome->setOpening(QString());
}

void MainWindow::showMainView(int index) {
    if (m_datasetModel->rowCount() == 0)
        return;
    m_views->setCurrentIndex(index);
    m_views->currentWidget()->setFocus();
}

MainWindow::~MainWindow() = default;

QDockWidget* MainWindow::addPanel(const QString& title, const QString& objectName, QWidget* widget,
                                  Qt::DockWidgetArea area) {
    auto* dock = new QDockWidget(title, this);
    dock->setObjectName(objectName);
    dock->setWidget(widget);
    addDockWidget(area, dock);
    return dock;
}

void MainWindow::buildDocks() {
    // The centre: a welcome page while no data set is open, then the map and the
    // Inspector as the two main views (Ctrl+1 / Ctrl+2).
    m_inspector = new InspectorPanel;
    m_map = new MapPanel(m_workspace, m_datasetModel, m_thumbnails);
    m_views = new QTabWidget;
    m_views->setObjectName(QStringLiteral("mainViews"));
    m_views->setDocumentMode(true);
    m_views->addTab(m_map, QIcon(QStringLiteral(":/vitrine/icons/map.svg")), tr("Map"));
    m_views->addTab(m_inspector, QIcon(QStringLiteral(":/vitrine/icons/inspector.svg")), tr("Inspector"));
    m_views->setTabToolTip(0, tr("The embedding map: every image as a point (Ctrl+1)"));
    m_views->setTabToolTip(1, tr("Patch tokens and attention of the selected image (Ctrl+2)"));
    m_welcome = new WelcomePage;
    m_welcome->setDemoAvailable(!demoDataDir().isEmpty());
    connect(m_welcome, &WelcomePage::openFolderRequested, this, &MainWindow::openFolderDialog);
    connect(m_welcome, &WelcomePage::openDemoRequested, this, [this] { openFolder(demoDataDir()); });
    connect(m_welcome, &WelcomePage::chooseModelRequested, this, &MainWindow::chooseModelDialog);
    m_centre = new QStackedWidget;
    m_centre->addWidget(m_welcome);
    m_centre->addWidget(m_views);
    setCentralWidget(m_centre);
    connect(m_datasetModel, &QAbstractItemModel::modelReset, this, &MainWindow::updateCentre);
    connect(m_datasetModel, &QAbstractItemModel::rowsInserted, this, &MainWindow::updateCentre);
    connect(m_datasetModel, &QAbstractItemModel::rowsRemoved, this, &MainWindow::updateCentre);

    // Left: the data set, and the training settings as a second tab.
    m_datasetDock = addPanel(tr("Data set"), QStringLiteral("datasetDock"), m_datasetPanel, Qt::LeftDockWidgetArea);
    m_training = new TrainingPanel(m_thumbnails);
    {
        QStringList bundled, presets;
        for (const auto& n : core::model::bundledModelNames())
            bundled << QString::fromStdString(n);
        for (const auto& n : core::model::VitConfig::presetNames())
            presets << QString::fromStdString(n);
        m_training->setModelChoices(bundled, presets);
    }
    m_trainer = new TrainingController(m_training, m_datasetModel, m_workspace, this);
    connect(m_trainer, &TrainingController::idle, this, [this] {
        if (auto action = std::exchange(m_afterTraining, {}))
            action();
    });
    m_trainingDock = addPanel(tr("Training"), QStringLiteral("trainingDock"), m_training, Qt::LeftDockWidgetArea);
    tabifyDockWidget(m_datasetDock, m_trainingDock);
    m_datasetDock->raise();

    // Right: the neighbours of the selected image.
    m_neighbours = new NeighboursPanel(m_thumbnails);
    m_neighboursDock = addPanel(tr("Neighbours"), QStringLiteral("neighboursDock"), m_neighbours,
                                Qt::RightDockWidgetArea);
    // Right, the tab beside it: the audit of the data set, and its fixes.
    m_audit = new AuditPanel(m_workspace, m_datasetModel);
    m_auditDock = addPanel(tr("Audit"), QStringLiteral("auditDock"), m_audit, Qt::RightDockWidgetArea);
    tabifyDockWidget(m_neighboursDock, m_auditDock);
    // And the comparison with another model, checkpoint or embeddings file.
    m_compare = new ComparePanel(m_workspace, m_datasetModel);
    m_compare->setLinkedMap(m_map->view(), m_thumbnails);
    m_compare->setRunCheckpoints([this] {
        QStringList paths;
        for (int i = 0; i < m_training->checkpointList()->count(); ++i)
            paths << m_training->checkpointList()->item(i)->data(Qt::UserRole).toString();
        return paths;
    });
    m_compareDock = addPanel(tr("Compare"), QStringLiteral("compareDock"), m_compare, Qt::RightDockWidgetArea);
    tabifyDockWidget(m_auditDock, m_compareDock);
    m_neighboursDock->raise();

    // Bottom, only when there is something to show: a run's charts (from its start on) and
    // the files that could not be used.
    m_chartsDock = addPanel(tr("Training charts"), QStringLiteral("trainingChartsDock"), m_training->chartsWidget(),
                            Qt::BottomDockWidgetArea);
    m_training->chartsWidget()->show();
    m_problemsDock = addPanel(tr("Problems"), QStringLiteral("problemsDock"), m_problemsView, Qt::BottomDockWidgetArea);
    tabifyDockWidget(m_chartsDock, m_problemsDock);
    m_chartsDock->hide();
    m_problemsDock->hide();
    connect(m_trainer, &TrainingController::started, this, [this] {
        m_chartsDock->show();
        m_chartsDock->raise();
        resizeDocks({m_chartsDock}, {std::max(220, height() / 3)}, Qt::Vertical);
    });

    // One selection, followed by every panel.
    connect(this, &MainWindow::selectionChanged, this, &MainWindow::onSelection);
    connect(m_map, &MapPanel::rowActivated, m_datasetPanel, &DatasetPanel::selectRow);
    connect(m_audit, &AuditPanel::rowActivated, m_datasetPanel, &DatasetPanel::selectRow);
    connect(m_audit, &AuditPanel::scoresReady, m_map, &MapPanel::setRowScores);
    connect(m_compare, &ComparePanel::rowActivated, m_datasetPanel, &DatasetPanel::selectRow);
    // A comparison is read on the map: colour it by how much each image's neighbourhood moved.
    connect(m_compare, &ComparePanel::scoresReady, m_map, [this](const QString& name, const QVector<float>& perRow) {
        m_map->setRowScores(name, perRow);
        m_map->showScores(name);
        // The second map sits beside the main one: give it room to be read.
        if (!m_compareDock->isFloating() && m_compareDock->width() < width() * 2 / 5)
            resizeDocks({m_compareDock}, {width() * 2 / 5}, Qt::Horizontal); // the maps refit (ScatterView)
    });
    // Files moved or trashed by a fix: read the data set again (it is on disk that changed).
    connect(m_audit, &AuditPanel::filesChanged, this, [this] {
        if (!m_folder.isEmpty())
            openFolder(m_folder);
    });
    connect(m_neighbours, &NeighboursPanel::pairActivated, this, [this] { showMainView(1); });
    connect(m_neighbours, &NeighboursPanel::pairActivated, m_workspace, &Workspace::requestPairInspection);
    connect(m_neighbours, &NeighboursPanel::imageDropped, this, [this](const QString& path) {
        m_workspace->requestNeighboursOfFile(path, m_neighbours->k(), m_neighbours->cosine());
    });
    connect(m_neighbours, &NeighboursPanel::parametersChanged, this, [this] { onSelection(m_currentRow); });
    // "From another class" depends on the class level: ask again when it changes.
    connect(m_datasetModel, &DatasetModel::classesChanged, this, [this] {
        if (m_currentRow >= 0)
            onSelection(m_currentRow);
    });
    connect(m_workspace, &Workspace::neighboursReady, m_neighbours, &NeighboursPanel::setResults);
    connect(m_workspace, &Workspace::inspectionReady, this,
            [this](std::shared_ptr<const core::analysis::InspectionResult> r, const QString& title) {
                m_inspector->setInspection(std::move(r), title);
            });
    connect(m_workspace, &Workspace::pairInspectionReady, this,
            [this](InspectionPtr a, const QString& ta, InspectionPtr b, const QString& tb, bool checkpoints) {
                if (checkpoints)
                    m_inspector->setCheckpointPair(std::move(a), ta, std::move(b), tb);
                else
                    m_inspector->setImagePair(std::move(a), ta, std::move(b), tb);
            });
    connect(m_workspace, &Workspace::embeddingsChanged, this, [this] {
        if (m_currentRow >= 0)
            m_workspace->requestNeighbours(m_currentRow, m_neighbours->k(), m_neighbours->cosine());
    });
    connect(m_workspace, &Workspace::layoutChanged, this, [this] { m_map->view()->setCurrent(m_currentRow); });
    connect(m_workspace, &Workspace::computeSummaryChanged, this,
            [this](const QString& summary) { m_computeSummary = summary; });
    connect(m_workspace, &Workspace::modelChanged, this,
            [this](const QString& description, const QStringList& warnings) {
                m_statusModel->setText(description);
                m_statusModel->setToolTip((QStringList{m_computeSummary} + warnings).join('\n'));
                if (!warnings.isEmpty())
                    statusBar()->showMessage(warnings.join(QStringLiteral(" · ")), 10000);
            });
    connect(m_workspace, &Workspace::message, this,
            [this](const QString& text) { statusBar()->showMessage(text, 15000); });
    connect(m_workspace, &Workspace::error, this, [this](const QString& message) {
        statusBar()->showMessage(message, 15000);
        m_inspector->setError(message);
    });
    connect(m_training, &TrainingPanel::checkpointActivated, this,
            [this](const QString& path) { m_workspace->setModel(path); });
    connect(m_training, &TrainingPanel::compareCheckpointsRequested, this, [this](const QString& a, const QString& b) {
        m_workspace->requestCheckpointComparison(std::max(0, m_currentRow), a, b);
    });
    connect(m_training, &TrainingPanel::tripletActivated, m_workspace, &Workspace::requestPairInspection);
    connect(m_training, &TrainingPanel::tripletActivated, this, [this] { showMainView(1); });
    connect(m_training, &TrainingPanel::compareCheckpointsRequested, this, [this] { showMainView(1); });
    connect(m_trainer, &TrainingController::finished, this,
            [this](const QString& summary) { statusBar()->showMessage(summary, 20000); });
}

void MainWindow::onSelection(int row) {
    m_currentRow = row;
    if (row < 0)
        return;
    m_map->view()->setCurrent(row);
    m_compare->setCurrentRow(row);
    m_inspector->setBusy(tr("Inspecting %1…").arg(m_datasetModel->index(row).data(Qt::DisplayRole).toString()));
    m_workspace->requestInspection(row);
    m_workspace->requestNeighbours(row, m_neighbours->k(), m_neighbours->cosine());
}

void MainWindow::buildMenus() {
    QMenu* file = menuBar()->addMenu(tr("&File"));
    QAction* open = file->addAction(tr("&Open Folder…"), this, &MainWindow::openFolderDialog);
    open->setShortcut(QKeySequence::Open);
    open->setToolTip(tr("Open a folder with one sub-folder per class"));
    QAction* openEmbeddingsAction = file->addAction(tr("Open &Embeddings…"), this, &MainWindow::openEmbeddingsDialog);
    openEmbeddingsAction->setToolTip(tr("Open an embeddings file (.npy, .safetensors, .csv) and its rows as the map, "
                                        "without the images"));
    QAction* add = file->addAction(tr("&Add Images or Folders…"), this, &MainWindow::addImagesDialog);
    add->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_O));
    QAction* demo = file->addAction(tr("Open &Demo Photos"), this, [this] {
        QString dir = demoDataDir();
        if (dir.isEmpty())
            QMessageBox::warning(this, tr("Demo photos"), tr("The bundled demo photos were not found."));
        else
            openFolder(dir);
    });
    demo->setEnabled(!demoDataDir().isEmpty());
    m_recentMenu = file->addMenu(tr("Open &Recent"));
    rebuildRecentMenu();
    file->addSeparator();
    QAction* exportAct = file->addAction(tr("&Export Embeddings…"), this, &MainWindow::exportDialog);
    exportAct->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_E));
    exportAct->setToolTip(tr("Write the embeddings with their paths and labels as .npy, .csv, .safetensors or a "
                             "TensorBoard Projector bundle"));
    m_exportSelectionAction = file->addAction(tr("Export &Selection…"), this, &MainWindow::exportSelectionDialog);
    m_exportSelectionAction->setObjectName(QStringLiteral("exportSelectionAction"));
    m_exportSelectionAction->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_E));
    m_exportSelectionAction->setToolTip(
        tr("Save the images selected on the map as a CSV list, a copy as an ImageFolder "
           "tree, or a montage PNG (Ctrl+Shift+E)"));
    m_exportSelectionAction->setStatusTip(m_exportSelectionAction->toolTip());
    file->addSeparator();
    QAction* quit = file->addAction(tr("&Quit"), this, &QWidget::close);
    quit->setShortcut(QKeySequence::Quit);

    QMenu* edit = menuBar()->addMenu(tr("&Edit"));
    QAction* undo = m_undo->createUndoAction(this, tr("&Undo"));
    undo->setShortcut(QKeySequence::Undo);
    QAction* redo = m_undo->createRedoAction(this, tr("&Redo"));
    redo->setShortcut(QKeySequence::Redo);
    edit->addAction(undo);
    edit->addAction(redo);

    QMenu* modelMenu = menuBar()->addMenu(tr("&Model"));
    modelMenu->addAction(tr("Use the &Default Model (ViT-Ti/16 fine-tuned on pet breeds)"), this,
                         [this] { m_workspace->setModel(QStringLiteral("default")); });
    for (const auto& n : core::model::bundledModelNames()) {
        const QString name = QString::fromStdString(n);
        if (name == QStringLiteral("default"))
            continue;
        const QString label = name == QStringLiteral("vit-tiny-16-augreg")
                                  ? tr("Use ViT-Ti/16 AugReg (pretrained on ImageNet-21k, not fine-tuned)")
                                  : tr("Use %1").arg(name);
        modelMenu->addAction(label, this, [this, name] { m_workspace->setModel(name); });
    }
    QMenu* presets = modelMenu->addMenu(tr("&Preset (random weights)"));
    for (const auto& n : core::model::VitConfig::presetNames()) {
        const QString name = QString::fromStdString(n);
        presets->addAction(name, this, [this, name] { m_workspace->setModel(name); });
    }
    modelMenu->addSeparator();
    QAction* download = modelMenu->addAction(tr("&Download a Model…"), this, [this] {
        auto* dialog = new DownloadDialog(this);
        dialog->setAttribute(Qt::WA_DeleteOnClose);
        connect(dialog, &DownloadDialog::downloaded, this,
                [this](const QString&, const QString& path) { m_workspace->setModel(path); });
        dialog->show();
    });
    download->setObjectName(QStringLiteral("downloadModelAction"));
    download->setToolTip(tr("DINO, DINOv2 (with registers), DeiT and MAE checkpoints from their publishers"));
    QAction* openModel = modelMenu->addAction(tr("&Open Checkpoint…"), this, &MainWindow::chooseModelDialog);
    openModel->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_M));
    openModel->setToolTip(tr(
        "Load a checkpoint: .safetensors (Vitrine, timm/DINO, Hugging Face, torchvision, CLIP) or a PyTorch .pth/.pt/.bin state dict (DINO, DINOv2, DeiT, MAE, CLIP), read without running Python"));
    modelMenu->addAction(tr("&Recompute Map"), this, [this] { m_workspace->computeEmbeddings(); });

    m_viewMenu = menuBar()->addMenu(tr("&View"));
    QAction* showMap = m_viewMenu->addAction(QIcon(QStringLiteral(":/vitrine/icons/map.svg")), tr("&Map"), this,
                                             [this] { showMainView(0); });
    showMap->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_1));
    QAction* showInspector = m_viewMenu->addAction(QIcon(QStringLiteral(":/vitrine/icons/inspector.svg")),
                                                   tr("&Inspector"), this, [this] { showMainView(1); });
    showInspector->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_2));
    m_focusAction = m_viewMenu->addAction(tr("&Focus on the Main View"), this, [this](bool on) {
        // Hides every panel, giving the map or the Inspector the whole window; again restores them.
        if (on) {
            m_stateBeforeFocus = saveState(kLayoutVersion);
            for (QDockWidget* dock : findChildren<QDockWidget*>())
                dock->hide();
        } else {
            restoreState(m_stateBeforeFocus, kLayoutVersion);
        }
    });
    m_focusAction->setCheckable(true);
    m_focusAction->setShortcut(QKeySequence(Qt::Key_F9));
    m_focusAction->setToolTip(
        tr("Hide all panels so the map or the Inspector fills the window (F9 again restores them)"));
    QMenu* themes = m_viewMenu->addMenu(tr("&Theme"));
    auto* themeGroup = new QActionGroup(this);
    for (const auto& [theme, label] : {std::pair{Theme::System, tr("&System")}, std::pair{Theme::Light, tr("&Light")},
                                       std::pair{Theme::Dark, tr("&Dark")}}) {
        // An init-capture: clang before 16 (clang-tidy 14) cannot capture a structured binding.
        QAction* a = themes->addAction(label, this, [theme = theme] { applyTheme(theme); });
        a->setCheckable(true);
        a->setChecked(savedTheme() == theme);
        a->setObjectName(QStringLiteral("theme-") + themeName(theme));
        themeGroup->addAction(a);
    }
    m_viewMenu->addSeparator();
    for (QDockWidget* dock : findChildren<QDockWidget*>())
        m_viewMenu->addAction(dock->toggleViewAction());

    // The toolbar: the common actions in the order of the work.
    m_toolbar = addToolBar(tr("Main"));
    m_toolbar->setObjectName(QStringLiteral("mainToolbar"));
    m_toolbar->setIconSize(QSize(22, 22));
    m_toolbar->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
    open->setIcon(QIcon(QStringLiteral(":/vitrine/icons/open-folder.svg")));
    open->setIconText(tr("Open"));
    demo->setIcon(QIcon(QStringLiteral(":/vitrine/icons/demo-photos.svg")));
    demo->setIconText(tr("Demo"));
    demo->setToolTip(tr("Open the bundled demo photos (296 cats and dogs, 37 breeds)"));
    exportAct->setIcon(QIcon(QStringLiteral(":/vitrine/icons/export.svg")));
    exportAct->setIconText(tr("Export"));
    m_toolbar->addAction(open);
    m_toolbar->addAction(demo);
    auto* modelButton = new QToolButton;
    modelButton->setObjectName(QStringLiteral("modelButton"));
    modelButton->setText(tr("Model"));
    modelButton->setIcon(QIcon(QStringLiteral(":/vitrine/icons/model.svg")));
    modelButton->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
    modelButton->setPopupMode(QToolButton::InstantPopup);
    modelButton->setMenu(modelMenu);
    modelButton->setToolTip(tr("Choose the model: the bundled ones, a preset, or a checkpoint file (Ctrl+M)"));
    modelButton->setAccessibleName(tr("Model"));
    m_toolbar->addWidget(modelButton);
    m_toolbar->addSeparator();
    // Compute and Train press the panels' own buttons; their shortcuts (F5, Ctrl+Return) live
    // here, so they work whichever panel is in front. Both are in the Run menu too.
    QAction* compute = m_toolbar->addAction(QIcon(QStringLiteral(":/vitrine/icons/map.svg")), tr("Compute Map"), this,
                                            [this] { m_map->computeButton()->click(); });
    compute->setObjectName(QStringLiteral("computeMapAction"));
    compute->setShortcut(QKeySequence(Qt::Key_F5));
    compute->setToolTip(tr("Embed every image with the current model and draw the map (F5)"));
    QAction* train = m_toolbar->addAction(QIcon(QStringLiteral(":/vitrine/icons/train.svg")), tr("Train"), this,
                                          [this] {
                                              m_trainingDock->show();
                                              m_trainingDock->raise();
                                              if (m_training->startButton()->isEnabled())
                                                  m_training->startButton()->click();
                                          });
    train->setObjectName(QStringLiteral("trainAction"));
    train->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Return));
    train->setToolTip(tr("Train the embedding with triplet loss using the Training tab's settings (Ctrl+Return)"));
    connect(m_trainer, &TrainingController::started, train, [train] { train->setEnabled(false); });
    connect(m_trainer, &TrainingController::finished, train, [train] { train->setEnabled(true); });
    m_toolbar->addAction(exportAct);
    QMenu* run = menuBar()->insertMenu(m_viewMenu->menuAction(), new QMenu(tr("&Run"), this))->menu();
    run->addAction(compute);
    run->addAction(train);
    QAction* auditAct = run->addAction(tr("&Audit Data Set"), this, [this] {
        m_auditDock->show();
        m_auditDock->raise();
        m_audit->runAudit();
    });
    auditAct->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_A));
    auditAct->setToolTip(tr("Find duplicates, leakage, likely mislabels and outliers in the data set (Ctrl+Shift+A)"));
    m_compareAction = run->addAction(tr("&Compare With…"), this, [this] {
        m_compareDock->show();
        m_compareDock->raise();
        m_compare->popupSourceMenu();
    });
    m_compareAction->setObjectName(QStringLiteral("compareAction"));
    m_compareAction->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_K));
    m_compareAction->setToolTip(
        tr("Compare the current embeddings with another model, a checkpoint of the training run "
           "or an embeddings file of the same images: which images' neighbours changed, and "
           "the two maps side by side (Ctrl+Shift+K)"));
    m_compareAction->setStatusTip(m_compareAction->toolTip());
    m_map->setContextActions({m_exportSelectionAction, m_compareAction});
    m_toolbar->addSeparator();
    m_toolbar->addAction(showMap);
    m_toolbar->addAction(showInspector);
    m_viewMenu->addAction(m_toolbar->toggleViewAction());

    QMenu* help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("&About Vitrine"), this, [this] {
        QMessageBox::about(this, tr("About Vitrine"),
                           tr("<h3>Vitrine %1</h3><p>Explore, train and compare Vision Transformer embeddings.</p>"
                              "<p><b>Models.</b> ViT-Ti/16 AugReg weights © Google, Apache-2.0, via timm; converted "
                              "to safetensors (the file format was changed and the weights stored as float16). "
                              "The default model is those weights fine-tuned by Vitrine with triplet loss on the "
                              "Oxford-IIIT Pet photos. Licence: resources/models/LICENSE-Apache-2.0.txt.</p>"
                              "<p>Demo photos: Oxford-IIIT Pet Dataset (Parkhi et al., 2012), CC BY-SA 4.0.</p>"
                              "<p><b>This machine.</b> %2</p>")
                               .arg(QStringLiteral(VITRINE_VERSION), m_computeSummary.toHtmlEscaped()));
    });
}

void MainWindow::exportSelectionDialog() {
    QList<int> rows(m_map->view()->selection().begin(), m_map->view()->selection().end());
    std::sort(rows.begin(), rows.end());
    const auto& ds = m_datasetModel->dataset();
    rows.erase(std::remove_if(rows.begin(), rows.end(), [&](int r) { return r < 0 || r >= int(ds.samples.size()); }),
               rows.end());
    // Nothing selected but an image in view (picked in the data set, Audit, Compare or
    // Neighbours lists: the ringed point): that image is what the user means.
    if (rows.isEmpty() && m_map->view()->current() >= 0 && m_map->view()->current() < int(ds.samples.size()))
        rows = {m_map->view()->current()};
    if (rows.isEmpty()) {
        statusBar()->showMessage(
            tr("Nothing is selected on the map: Shift+drag a rectangle or Ctrl+drag a lasso around "
               "points (or click one), then Export Selection again."),
            15000);
        return;
    }
    // Paths relative to the data set's folder where they are inside it (as the CLI's select
    // takes them), absolute for images added from elsewhere; the score the map is coloured by
    // goes into the CSV.
    const QString scoreName = m_map->currentScoreName();
    const QVector<float> score = scoreName.isEmpty() ? QVector<float>{} : m_map->scores(scoreName);
    std::vector<core::analysis::SelectedImage> images;
    for (int r : rows) {
        const auto& s = ds.samples[std::size_t(r)];
        std::error_code ec;
        const auto rel = std::filesystem::relative(s.path, ds.root, ec);
        const std::string text = rel.generic_string();
        core::analysis::SelectedImage image;
        image.path = ec || text.empty() || text.rfind("..", 0) == 0 ? s.path.string() : text;
        image.label = m_datasetModel->index(r).data(DatasetModel::ClassRole).toString().toStdString();
        if (r < score.size())
            image.score = score[r];
        images.push_back(std::move(image));
    }
    auto* dialog = new SelectionExportDialog(QString::fromStdString(ds.root.string()), std::move(images), this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    dialog->open();
}

void MainWindow::showJobProgress(JobRunner* runner) {
    connect(runner, &JobRunner::started, this, [this, runner] {
        m_activeRunner = runner;
        m_progress->setRange(0, 0);
        m_progress->setVisible(true);
        m_cancel->setVisible(true);
        m_statusJob->setText(runner->name() + QStringLiteral("…"));
    });
    connect(runner, &JobRunner::progress, this, [this, runner](qint64 done, qint64 total, const QString& stage) {
        if (m_activeRunner != runner)
            return;
        if (total > 0) {
            m_progress->setRange(0, 1000);
            m_progress->setValue(static_cast<int>(1000 * done / total));
            m_statusJob->setText(
                tr("%1 %2/%3 · %4 left").arg(stage).arg(done).arg(total).arg(formatEta(runner->etaSeconds())));
        } else {
            m_statusJob->setText(stage);
        }
    });
    connect(runner, &JobRunner::idle, this, [this, runner] {
        if (m_activeRunner != runner)
            return;
        m_activeRunner = nullptr;
        m_progress->setVisible(false);
        m_cancel->setVisible(false);
        m_statusJob->clear();
    });
    connect(runner, &JobRunner::failed, this, [this](const QString& message) {
        statusBar()->showMessage(message, 10000);
        QMessageBox::warning(this, tr("Vitrine"), message);
    });
    connect(runner, &JobRunner::cancelled, this,
            [this] { statusBar()->showMessage(tr("Cancelled; nothing was changed."), 5000); });
}

void MainWindow::openFolder(const QString& folder) {
    if (stopTrainingFirst(tr("Opening another data set stops the training run."),
                          [this, folder] { openFolder(folder); }))
        return;
    const std::string path = QDir(folder).absolutePath().toStdString();
    m_welcome->setOpening(QDir(folder).absolutePath());
    bool started = m_scanRunner->start([this, path](const JobRunner::Context& ctx) -> std::function<void()> {
        auto ds = std::make_shared<core::data::Dataset>(core::data::scanFolder(path, {}, ctx.progress, &ctx.cancel));
        return [this, ds] {
            m_folder = QString::fromStdString(ds->root.string());
            m_problems->removeRows(0, m_problems->rowCount());
            addProblems(ds->skipped);
            m_undo->clear();
            m_thumbnails->clear();
            m_datasetModel->setDataset(std::move(*ds));
            rememberFolder(m_folder);
            setWindowTitle(tr("%1 — Vitrine").arg(QFileInfo(m_folder).fileName()));
            if (m_datasetModel->rowCount() == 0)
                m_welcome->setMessage(
                    tr("%1 holds no images Vitrine can read%2. Choose the folder that holds one "
                       "sub-folder per class.")
                        .arg(m_folder.toHtmlEscaped(), m_problems->rowCount() ? tr(" (see Problems)") : QString()));
            if (m_datasetModel->rowCount() > 0) {
                m_datasetPanel->selectRow(0);
                m_workspace->computeEmbeddings(); // the map and neighbours appear without asking
            }
        };
    });
    if (!started)
        statusBar()->showMessage(tr("Still loading the previous folder; try again when it is done."), 5000);
}

void MainWindow::openEmbeddings(const QString& file) {
    if (stopTrainingFirst(tr("Opening an embeddings file stops the training run."),
                          [this, file] { openEmbeddings(file); }))
        return;
    const std::filesystem::path path = QFileInfo(file).absoluteFilePath().toStdString();
    m_welcome->setOpening(QFileInfo(file).absoluteFilePath());
    struct Opened {
        core::io::MappedEmbeddingSet set;
        core::data::Dataset dataset;
        DatasetIndex index; // built here, not on the GUI thread (10^6 rows: seconds)
        QVector<int> rowOf; // data set row -> embedding row
    };
    const int level = m_datasetModel->labelLevel();
    bool started = m_scanRunner->start([this, path, level](const JobRunner::Context& ctx) -> std::function<void()> {
        auto opened = std::make_shared<Opened>();
        core::report(ctx.progress, 0, 3, core::StageKind::Reading, "the rows");
        opened->set = core::io::openEmbeddingSet(path);
        const auto& rows = opened->set.rows;
        ctx.cancel.check();
        core::report(ctx.progress, 1, 3, core::StageKind::Reading, "naming the rows");
        // Rows name images relative to the file's folder (as `vitrine-cli embed` writes them
        // relative to the data set); the images need not be there: thumbnails are then absent.
        auto& ds = opened->dataset;
        ds.root = path.parent_path();
        const std::int64_t n = opened->set.embeddings.rows;
        ds.samples.resize(std::size_t(n));
        std::vector<std::int64_t> order(static_cast<std::size_t>(n));
        for (std::int64_t i = 0; i < n; ++i) {
            const std::string& rel = rows.value(i, "path");
            const std::string& label = rows.value(i, "label");
            auto& s = ds.samples[std::size_t(i)];
            s.relativePath = rel.empty() ? std::to_string(i) : rel;
            const std::filesystem::path p(s.relativePath);
            s.path = p.is_absolute() ? p : ds.root / p;
            if (!label.empty())
                s.labels = {label};
            order[std::size_t(i)] = i;
        }
        ctx.cancel.check();
        core::report(ctx.progress, 2, 3, core::StageKind::Reading, "sorting the rows");
        // The data set keeps its samples sorted by relative path; the embeddings stay in file order.
        std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
            return ds.samples[std::size_t(a)].relativePath < ds.samples[std::size_t(b)].relativePath;
        });
        std::vector<core::data::Sample> sorted(static_cast<std::size_t>(n));
        opened->rowOf = QVector<int>(int(n));
        for (std::int64_t r = 0; r < n; ++r) {
            sorted[std::size_t(r)] = std::move(ds.samples[std::size_t(order[std::size_t(r)])]);
            opened->rowOf[int(r)] = int(order[std::size_t(r)]);
        }
        ds.samples = std::move(sorted);
        ctx.cancel.check();
        opened->index = DatasetIndex::build(ds, level);
        core::report(ctx.progress, 3, 3, core::StageKind::Reading);
        return [this, opened, path] {
            m_folder.clear();
            m_problems->removeRows(0, m_problems->rowCount());
            m_undo->clear();
            m_thumbnails->clear();
            m_datasetModel->setDataset(std::move(opened->dataset), std::move(opened->index));
            const QString name = QString::fromStdString(path.filename().string());
            setWindowTitle(tr("%1 — Vitrine").arg(name));
            m_workspace->setEmbeddings(opened->set.embeddings, opened->rowOf,
                                       tr("%1 · %L2 × %3 embeddings (no model)")
                                           .arg(name)
                                           .arg(opened->set.embeddings.rows)
                                           .arg(opened->set.embeddings.cols),
                                       QString::fromStdString(path.string()));
        };
    });
    if (!started)
        statusBar()->showMessage(tr("Still loading the previous folder; try again when it is done."), 5000);
}

void MainWindow::addFolders(const QStringList& folders) {
    std::vector<std::filesystem::path> paths;
    for (const QString& f : folders)
        paths.push_back(QDir(f).absolutePath().toStdString());
    bool started = m_scanRunner->start([this, paths](const JobRunner::Context& ctx) -> std::function<void()> {
        // The import rules (a folder of loose images is one class named after the folder, ...)
        // are core's: core/data/import_rules.h.
        auto imported = std::make_shared<core::data::Import>(
            core::data::importFolders(paths, {}, ctx.progress, &ctx.cancel));
        return [this, imported] {
            addProblems(imported->skipped);
            const auto& added = imported->samples;
            if (!added.empty())
                m_undo->push(
                    new AddSamplesCommand(m_datasetModel, added, tr("Add %n image(s)", "", int(added.size()))));
            updateStatus();
        };
    });
    if (!started)
        statusBar()->showMessage(tr("Still loading; drop again when it is done."), 5000);
}

void MainWindow::addFiles(const QStringList& files) {
    std::vector<std::filesystem::path> dropped;
    for (const QString& f : files)
        dropped.push_back(f.toStdString());
    const core::data::Import checked = core::data::checkDroppedFiles(dropped);
    addProblems(checked.skipped);
    if (checked.samples.empty()) {
        if (!checked.skipped.empty())
            statusBar()->showMessage(tr("None of the dropped files is an image; see Problems."), 8000);
        return;
    }
    QString cls = m_classChooser(m_datasetModel->classNames(), int(checked.samples.size()));
    if (cls.isEmpty())
        return;
    const auto labels = core::data::labelsForClass(m_datasetModel->dataset(), m_datasetModel->labelLevel(),
                                                   cls.toStdString());
    std::vector<std::filesystem::path> images;
    for (const auto& s : checked.samples)
        images.push_back(s.path);
    const std::vector<core::data::Sample> samples = core::data::samplesForClass(images, labels);
    m_undo->push(
        new AddSamplesCommand(m_datasetModel, samples, tr("Add %n image(s) to %1", "", int(samples.size())).arg(cls)));
    updateStatus();
}

void MainWindow::addProblems(const std::vector<core::Skipped>& skipped) {
    for (const auto& s : skipped) {
        auto* file = new QStandardItem(QString::fromStdString(s.path));
        file->setToolTip(file->text());
        auto* reason = new QStandardItem(QString::fromStdString(s.reason));
        reason->setToolTip(reason->text());
        m_problems->appendRow({file, reason});
    }
    if (!skipped.empty()) {
        m_problemsView->resizeColumnToContents(0);
        m_problemsDock->show();
        statusBar()->showMessage(tr("%n file(s) skipped; see Problems.", "", int(skipped.size())), 8000);
    }
    m_problemsDock->setWindowTitle(m_problems->rowCount() ? tr("Problems (%1)").arg(m_problems->rowCount())
                                                          : tr("Problems"));
    updateStatus();
}

void MainWindow::updateStatus() {
    m_statusCounts->setText(tr("%Ln image(s)", "", m_datasetModel->rowCount()) + QStringLiteral(" · ") +
                            tr("%Ln class(es)", "", int(m_datasetModel->classNames().size())) + QStringLiteral(" · ") +
                            tr("%Ln problem(s)", "", m_problems->rowCount()));
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
    if (event->mimeData()->hasUrls())
        event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event) {
    QStringList folders, files;
    QString model;
    for (const QUrl& url : event->mimeData()->urls()) {
        if (!url.isLocalFile())
            continue;
        QFileInfo info(url.toLocalFile());
        // A checkpoint or a Hugging Face model folder opens as the model; the rest are photos.
        if (core::model::looksLikeModel(info.absoluteFilePath().toStdString()))
            model = info.absoluteFilePath();
        else
            (info.isDir() ? folders : files) << info.absoluteFilePath();
    }
    event->acceptProposedAction();
    if (!model.isEmpty())
        m_workspace->setModel(model);
    if (!folders.isEmpty()) {
        if (m_datasetModel->rowCount() == 0 && folders.size() == 1)
            openFolder(folders.front());
        else
            addFolders(folders);
    }
    if (!files.isEmpty())
        addFiles(files);
}

bool MainWindow::stopTrainingFirst(const QString& why, std::function<void()> retry) {
    if (!m_trainer || !m_trainer->running())
        return false;
    if (!m_trainer->stopping()) {
        int answer = m_autoAnswer;
        if (answer < 0)
            answer = QMessageBox::question(this, tr("Training is running"),
                                           why + QStringLiteral("\n\n") +
                                               tr("Stop it now? The current weights are saved as a checkpoint."),
                                           QMessageBox::Yes | QMessageBox::No, QMessageBox::No);
        if (answer != QMessageBox::Yes)
            return true;
        // The run stops on its own thread (the step in flight is abandoned, the checkpoint
        // written); the window stays responsive and goes on when the controller is idle.
        m_trainer->stop();
        statusBar()->showMessage(tr("Stopping the training run and saving its checkpoint…"));
    }
    m_afterTraining = std::move(retry);
    return true;
}

void MainWindow::chooseModelDialog() {
    QString file = QFileDialog::getOpenFileName(
        this, tr("Open a model checkpoint"), QString(),
        tr("Checkpoints (*.safetensors *.pth *.pt *.bin *.ckpt);;All files (*)"));
    if (!file.isEmpty())
        m_workspace->setModel(file);
}

void MainWindow::exportDialog() {
    if (!m_workspace->hasEmbeddings()) {
        QMessageBox::information(this, tr("Export"), tr("There are no embeddings yet: compute the map first (F5)."));
        return;
    }
    ExportDialog dialog(m_workspace, m_datasetModel, this);
    dialog.exec();
}

void MainWindow::closeEvent(QCloseEvent* event) {
    if (stopTrainingFirst(tr("Closing Vitrine stops the training run."), [this] { close(); })) {
        event->ignore();
        return;
    }
    QSettings settings;
    settings.setValue(QStringLiteral("window/geometry"), saveGeometry());
    settings.setValue(QStringLiteral("window/state"), saveState(kLayoutVersion));
    m_scanRunner->cancel();
    event->accept();
}

void MainWindow::rememberFolder(const QString& folder) {
    QSettings settings;
    QStringList recent = settings.value(QStringLiteral("recentFolders")).toStringList();
    recent.removeAll(folder);
    recent.prepend(folder);
    while (recent.size() > kMaxRecent)
        recent.removeLast();
    settings.setValue(QStringLiteral("recentFolders"), recent);
    settings.setValue(QStringLiteral("lastFolder"), folder);
    rebuildRecentMenu();
}

void MainWindow::rebuildRecentMenu() {
    m_recentMenu->clear();
    const QStringList recent = QSettings().value(QStringLiteral("recentFolders")).toStringList();
    for (int i = 0; i < recent.size(); ++i) {
        QAction* a = m_recentMenu->addAction(QStringLiteral("&%1 %2").arg(i + 1).arg(recent[i]));
        const QString& folder = recent[i];
        connect(a, &QAction::triggered, this, [this, folder] { openFolder(folder); });
    }
    m_recentMenu->setEnabled(!recent.isEmpty());
}

void MainWindow::openFolderDialog() {
    QString dir = QFileDialog::getExistingDirectory(this, tr("Open a folder of labelled images"),
                                                    QSettings().value(QStringLiteral("lastFolder")).toString());
    if (!dir.isEmpty())
        openFolder(dir);
}

void MainWindow::openEmbeddingsDialog() {
    const QString file = QFileDialog::getOpenFileName(this, tr("Open an embeddings file"), QString(),
                                                      tr("Embeddings (*.npy *.safetensors *.csv);;All files (*)"));
    if (!file.isEmpty())
        openEmbeddings(file);
}

void MainWindow::addImagesDialog() {
    QStringList files = QFileDialog::getOpenFileNames(
        this, tr("Add images"), QString(),
        tr("Images (*.jpg *.jpeg *.png *.webp *.bmp *.tif *.tiff *.gif *.heic *.heif *.avif *.jxl);;All files (*)"));
    if (!files.isEmpty())
        addFiles(files);
}

} // namespace vitrine::ui
