#pragma once
// Vitrine's main window. The centre holds the main views, the embedding map and the
// Inspector (a welcome page until a data set is open); docks around it follow the same
// selection: Data set and Training settings (left), Neighbours (right), and at the bottom
// the Training charts (from a run's start) and Problems (when files could not be used).
// A toolbar holds the common actions. The GUI thread only paints and reacts; scanning,
// decoding and torch work run in JobRunners.

#include <QByteArray>
#include <QMainWindow>
#include <QStringList>

#include <functional>

#include "core/data/dataset.h"

class QAction;
class QDockWidget;
class QStackedWidget;
class QTabWidget;
class QToolBar;
class QLabel;
class QProgressBar;
class QToolButton;
class QStandardItemModel;
class QTableView;
class QUndoStack;
class QMenu;

namespace vitrine::ui {

class AuditPanel;
class ComparePanel;

class DatasetModel;
class DatasetPanel;
class InspectorPanel;
class JobRunner;
class MapPanel;
class NeighboursPanel;
class ThumbnailCache;
class WelcomePage;
class TrainingController;
class TrainingPanel;
class Workspace;

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(QWidget* parent = nullptr);
    ~MainWindow() override;

    /// Scans `folder` in a worker and replaces the data set with it.
    void openFolder(const QString& folder);
    /// Opens an embeddings file (.npy memory-mapped, .safetensors, .csv) and its rows sidecar
    /// as the data set and the map, without the images or a model: one row per embedding,
    /// named by the sidecar's path (relative to the file's folder) and label columns; the
    /// map is projected on a worker (PCA above Workspace::kLargeRows rows).
    void openEmbeddings(const QString& file);
    /// Scans each folder in a worker and adds its classes to the data set.
    void addFolders(const QStringList& folders);
    /// Adds loose image files after asking which class they join; non-images are
    /// reported in Problems.
    void addFiles(const QStringList& files);

    /// Chooses the class for dropped loose files: (existing classes) -> class name, or
    /// empty to cancel. Defaults to a dialog; tests replace it.
    using ClassChooser = std::function<QString(const QStringList& existing, int fileCount)>;
    void setClassChooser(ClassChooser chooser) { m_classChooser = std::move(chooser); }

    DatasetModel* datasetModel() const { return m_datasetModel; }
    DatasetPanel* datasetPanel() const { return m_datasetPanel; }
    QStandardItemModel* problemsModel() const { return m_problems; }
    JobRunner* scanRunner() const { return m_scanRunner; }
    QUndoStack* undoStack() const { return m_undo; }
    ThumbnailCache* thumbnails() const { return m_thumbnails; }
    QString currentFolder() const { return m_folder; }
    Workspace* workspace() const { return m_workspace; }
    MapPanel* mapPanel() const { return m_map; }
    AuditPanel* auditPanel() const { return m_audit; }
    ComparePanel* comparePanel() const { return m_compare; }
    /// File > Export Selection… (Ctrl+Shift+E; also in the map's context menu).
    QAction* exportSelectionAction() const { return m_exportSelectionAction; }
    /// Run > Compare With… (Ctrl+Shift+K; also in the map's context menu).
    QAction* compareAction() const { return m_compareAction; }
    /// Opens the Export Selection dialog for the images selected on the map (a message in the
    /// status bar when none is).
    void exportSelectionDialog();
    NeighboursPanel* neighboursPanel() const { return m_neighbours; }
    InspectorPanel* inspectorPanel() const { return m_inspector; }
    TrainingPanel* trainingPanel() const { return m_training; }
    TrainingController* trainingController() const { return m_trainer; }
    /// The centre: the welcome page (no data set) or the Map | Inspector views.
    QStackedWidget* centre() const { return m_centre; }
    QTabWidget* mainViews() const { return m_views; }
    WelcomePage* welcomePage() const { return m_welcome; }
    QToolBar* toolbar() const { return m_toolbar; }
    /// 0: the map, 1: the Inspector (Ctrl+1 / Ctrl+2); nothing while no data set is open.
    void showMainView(int index);
    /// Window geometry and dock proportions for the current screen (the first start).
    void fitToScreen();
    /// When set, questions (stop training?) are answered with this instead of a dialog; tests.
    void setAutoAnswer(int answer) { m_autoAnswer = answer; }

Q_SIGNALS:
    /// The selected image (data set row), -1 for none.
    void selectionChanged(int row);

protected:
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;
    void closeEvent(QCloseEvent* event) override;

private:
    void buildMenus();
    void buildDocks();
    QDockWidget* addPanel(const QString& title, const QString& objectName, QWidget* widget, Qt::DockWidgetArea area);
    void addProblems(const std::vector<core::Skipped>& skipped);
    void updateStatus();
    void rememberFolder(const QString& folder);
    void rebuildRecentMenu();
    void showJobProgress(JobRunner* runner);
    void openFolderDialog();
    void openEmbeddingsDialog();
    void addImagesDialog();
    void chooseModelDialog();
    void exportDialog();
    /// For an action that ends a running training (open another data set, close): false
    /// when no run is in the way, and the caller goes on. Otherwise asks whether to stop it
    /// (`why`; the checkpoint is kept) and returns true: the caller returns, and on Yes
    /// `retry` runs once the run has ended (never blocking the GUI thread while it stops;
    /// while a stop is under way the latest action waits, without asking again).
    bool stopTrainingFirst(const QString& why, std::function<void()> retry);
    void onSelection(int row);
    void updateCentre();

    /// Saved window layouts of other versions are ignored (the map was a dock before 2).
    static constexpr int kLayoutVersion = 4; // 3: the Audit panel, 4: the Compare panel

    ThumbnailCache* m_thumbnails;
    DatasetModel* m_datasetModel;
    DatasetPanel* m_datasetPanel;
    QStandardItemModel* m_problems;
    QTableView* m_problemsView;
    QDockWidget* m_problemsDock = nullptr;
    QDockWidget* m_datasetDock = nullptr;
    QDockWidget* m_trainingDock = nullptr;
    QDockWidget* m_neighboursDock = nullptr;
    QDockWidget* m_auditDock = nullptr;
    QDockWidget* m_compareDock = nullptr;
    QAction* m_exportSelectionAction = nullptr;
    QAction* m_compareAction = nullptr;
    QDockWidget* m_chartsDock = nullptr;
    QStackedWidget* m_centre = nullptr;
    QTabWidget* m_views = nullptr;
    WelcomePage* m_welcome = nullptr;
    QToolBar* m_toolbar = nullptr;
    QAction* m_focusAction = nullptr;
    QByteArray m_stateBeforeFocus;
    JobRunner* m_scanRunner;
    QUndoStack* m_undo;
    QMenu* m_recentMenu = nullptr;
    QMenu* m_viewMenu = nullptr;
    QLabel* m_statusCounts;
    QLabel* m_statusJob;
    QProgressBar* m_progress;
    QToolButton* m_cancel;
    QString m_folder;
    ClassChooser m_classChooser;
    Workspace* m_workspace = nullptr;
    MapPanel* m_map = nullptr;
    NeighboursPanel* m_neighbours = nullptr;
    AuditPanel* m_audit = nullptr;
    ComparePanel* m_compare = nullptr;
    InspectorPanel* m_inspector = nullptr;
    TrainingPanel* m_training = nullptr;
    TrainingController* m_trainer = nullptr;
    QLabel* m_statusModel = nullptr;
    QString m_computeSummary; ///< CPU, precision, kernels, threads (from the first embedding job)
    JobRunner* m_activeRunner = nullptr;
    int m_currentRow = -1;
    int m_autoAnswer = -1;
    std::function<void()> m_afterTraining; ///< stopTrainingFirst's action, once the run has ended
};

} // namespace vitrine::ui
